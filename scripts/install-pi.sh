#!/usr/bin/env bash
# Installs the LEELOO gadget on a Raspberry Pi from a prebuilt device release (built on
# any computer with `npx tsx scripts/build-device-release.ts`, one per board CPU, copied
# to the Pi and unpacked; this script is inside it): the right official Node.js when
# missing or too old, the app in /opt/leeloo (root-owned, readable by the service user)
# with its node_modules as the release ships them (no npm, no compiler: the spi driver's
# two addons come prebuilt for this CPU and Node line), config, SPI and the button/encoder overlays in
# config.txt, spidev at boot, service user and groups, systemd unit. Safe to run again:
# every step checks first and changes only what differs; nothing changed means no copy
# and no restart. An existing config is kept.
#
#   sudo leeloo-device/scripts/install-pi.sh --relay-url wss://leeloo.example.com/ws --name Kitchen
#   leeloo-device/scripts/install-pi.sh --dry-run          prints every action, changes nothing
#
# Options (or the environment variable in brackets):
#   --relay-url URL    relay WebSocket URL            [LEELOO_RELAY_URL]
#   --name NAME        device name the crew sees      [LEELOO_DEVICE_NAME]
#   --crew CODE        crew code to join (LEELOO-XXXX) [LEELOO_CREW_CODE]
#   --display DRIVER   fb | spi | sim (default fb)    [LEELOO_DISPLAY]
#   --fb DEVICE        framebuffer for fb (/dev/fb1)  [LEELOO_FB]
#   --panel NAME       panel for spi (ili9486)        [LEELOO_PANEL]
#   --gift             set up from a phone on first boot (access point, setup page)
#   --no-start         install and enable, do not (re)start
#   --dry-run          print the plan only
# Paths, overridable for tests and unusual layouts: LEELOO_ROOT (prefix of every
# system path), LEELOO_SOURCE (the unpacked release), LEELOO_APP_DIR, LEELOO_CONFIG,
# LEELOO_UNIT_DIR, LEELOO_BOOT_CONFIG, LEELOO_USER, LEELOO_NODE (a node binary to use),
# LEELOO_ARCH (uname -m), LEELOO_NODE_DIST (where official Node builds come from).
set -euo pipefail

SOURCE_DIR="${LEELOO_SOURCE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
ROOT="${LEELOO_ROOT:-}"
APP_DIR="${LEELOO_APP_DIR:-$ROOT/opt/leeloo}"
NODE_DIR="$APP_DIR/node"
CONFIG_FILE="${LEELOO_CONFIG:-$ROOT/etc/leeloo/device.json}"
UNIT_DIR="${LEELOO_UNIT_DIR:-$ROOT/etc/systemd/system}"
MODULES_FILE="$ROOT/etc/modules-load.d/leeloo.conf"
SERVICE_USER="${LEELOO_USER:-leeloo}"
RELAY_URL="${LEELOO_RELAY_URL:-}"
DEVICE_NAME="${LEELOO_DEVICE_NAME:-LEELOO}"
CREW_CODE="${LEELOO_CREW_CODE:-}"
DISPLAY_DRIVER="${LEELOO_DISPLAY:-fb}"
FB_DEVICE="${LEELOO_FB:-/dev/fb1}"
PANEL="${LEELOO_PANEL:-ili9486}"
ARCH="${LEELOO_ARCH:-$(uname -m)}"
NODE_DIST="${LEELOO_NODE_DIST:-https://nodejs.org/dist}"
NODE_BIN=""
DRY_RUN=0
REBOOT=0
START=1
GIFT=0
ACTIONS=0
WARNINGS=0
# Set when the app, its unit, its config or its modules changed: only then a restart.
CHANGED=0

usage() { sed -n '2,27p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --relay-url) RELAY_URL="${2:?--relay-url needs a value}"; shift 2 ;;
    --name) DEVICE_NAME="${2:?--name needs a value}"; shift 2 ;;
    --crew) CREW_CODE="${2:?--crew needs a value}"; shift 2 ;;
    --display) DISPLAY_DRIVER="${2:?--display needs a value}"; shift 2 ;;
    --fb) FB_DEVICE="${2:?--fb needs a value}"; shift 2 ;;
    --panel) PANEL="${2:?--panel needs a value}"; shift 2 ;;
    --gift) GIFT=1; shift ;;
    --no-start) START=0; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install-pi: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

say() { echo "install-pi: $*"; }
warn() { WARNINGS=$((WARNINGS + 1)); echo "install-pi: WARNING: $*"; }
fail() { echo "install-pi: ERROR: $*" >&2; exit 1; }

# Runs a command, or prints it in a dry run. Every change goes through here.
run() {
  ACTIONS=$((ACTIONS + 1))
  if [[ $DRY_RUN -eq 1 ]]; then
    echo "would run: $*"
  else
    echo "+ $*"
    "$@"
  fi
}

# Writes stdin to a file unless it already has exactly that content.
put_file() {
  local target="$1" mode="$2" content
  content="$(cat)"
  if [[ -f "$target" ]] && [[ "$(cat "$target")" == "$content" ]]; then
    say "$target is up to date"
    return 1
  fi
  ACTIONS=$((ACTIONS + 1))
  if [[ $DRY_RUN -eq 1 ]]; then
    echo "would write: $target (mode $mode)"
    printf '%s\n' "$content" | sed 's/^/    | /'
  else
    echo "+ write $target"
    mkdir -p "$(dirname "$target")"
    printf '%s\n' "$content" > "$target"
    chmod "$mode" "$target"
  fi
}

under_home() { [[ "$1" == /home || "$1" == /home/* || "$1" == /root || "$1" == /root/* ]]; }

check_inputs() {
  case "$DISPLAY_DRIVER" in fb|spi|sim) ;; *) fail "--display must be fb, spi or sim, not '$DISPLAY_DRIVER'." ;; esac
  case "$PANEL" in ili9486|st7796|st7789|ili9341) ;; *) fail "--panel must be ili9486, st7796, st7789 or ili9341, not '$PANEL'." ;; esac
  [[ "$FB_DEVICE" =~ ^/dev/fb[0-9]+$ ]] || fail "--fb must look like /dev/fb1, not '$FB_DEVICE'."
  [[ -z "$RELAY_URL" || "$RELAY_URL" =~ ^wss?://[^[:space:]]+$ ]] || fail "--relay-url must be a ws:// or wss:// URL, not '$RELAY_URL'."
  [[ -z "$CREW_CODE" || "${CREW_CODE^^}" =~ ^LEELOO-[A-HJ-NP-Z2-9]{4}$ ]] || fail "--crew must look like LEELOO-XXXX, not '$CREW_CODE'."
  # The unit has ProtectHome=yes: the service sees nothing under /home, /root or /run/user.
  if under_home "${APP_DIR#"$ROOT"}"; then
    fail "the app directory ${APP_DIR#"$ROOT"} is under /home, which the service cannot see (ProtectHome=yes); install into /opt/leeloo."
  fi
  if [[ $DRY_RUN -eq 0 && -z "$ROOT" && $EUID -ne 0 ]]; then
    fail "run as root (sudo), or with --dry-run to see the plan."
  fi
}

check_source() {
  if [[ ! -f "$SOURCE_DIR/dist/device/main.js" || ! -f "$SOURCE_DIR/RELEASE" ]]; then
    fail "$SOURCE_DIR is not a device release (no dist/device/main.js): build one on a computer with the dev tools (npx tsx scripts/build-device-release.ts), copy release/leeloo-device-*.tgz to the Pi, unpack it (tar xzf) and run its scripts/install-pi.sh."
  fi
  say "installing $(cat "$SOURCE_DIR/RELEASE" | cut -d' ' -f1-2) from $SOURCE_DIR"
  local platform line cpu
  node_target >/dev/null  # an ARMv6 board is refused with its own sentence first
  read -r line cpu <<<"$(node_target)"
  platform="$(cat "$SOURCE_DIR/PLATFORM" 2>/dev/null || echo unknown)"
  if [[ "$platform" != "linux-$cpu" ]]; then
    fail "this release is built for $platform, but this board is linux-$cpu ($ARCH): copy leeloo-device-*-linux-$cpu.tgz to the Pi instead (npx tsx scripts/build-device-release.ts builds both)."
  fi
}

# The Node line for this board and its CPU as official builds (and device releases) name
# it: armv7l up to 22 (supported to 2027-04), arm64 in 24; none for armv6 since Node 12.
node_target() {
  case "$ARCH" in
    aarch64|arm64) echo "24 arm64" ;;
    armv7l|armv8l) echo "22 armv7l" ;;
    x86_64|amd64) echo "24 x64" ;;
    armv6l) fail "this board is an ARMv6 (Pi 1 or Pi Zero/Zero W): current Node.js has no build for it, so LEELOO cannot run here; use a Pi Zero 2 W, 3, 4 or 5." ;;
    *) fail "no official Node.js build for the CPU '$ARCH'; LEELOO runs on Raspberry Pi 3, 4, 5 and Zero 2 W." ;;
  esac
}

# engines.node of the release (">=22.12"), as "major minor".
required_node() {
  sed -n 's/.*"node": *">=\([0-9][0-9]*\)\.\{0,1\}\([0-9]*\).*/\1 \2/p' "$SOURCE_DIR/package.json" | head -n1
}

# Whether $1 is a node at least as new as the release's engines; for the spi driver, of
# the very line its prebuilt addons are for (an addon loads in one Node major only).
node_ok() {
  local bin="$1" want major minor have
  [[ -x "$bin" ]] || return 1
  read -r major minor <<<"$(required_node)"
  have="$("$bin" -v 2>/dev/null | sed 's/^v//')" || return 1
  if [[ "$DISPLAY_DRIVER" == "spi" && "${have%%.*}" != "$(node_target | cut -d' ' -f1)" ]]; then
    say "node v$have at $bin is not Node $(node_target | cut -d' ' -f1), which the spi driver's prebuilt addons are for"
    return 1
  fi
  [[ "${have%%.*}" -gt "$major" ]] && return 0
  want="${have#*.}"
  [[ "${have%%.*}" -eq "$major" && "${want%%.*}" -ge "${minor:-0}" ]]
}

ensure_node() {
  local target line arch candidate
  target="$(node_target)"
  read -r line arch <<<"$target"
  if [[ -n "${LEELOO_NODE:-}" ]]; then
    under_home "$LEELOO_NODE" && fail "LEELOO_NODE=$LEELOO_NODE is under /home, which the service cannot see (ProtectHome=yes); install Node system-wide or leave LEELOO_NODE unset to get the official build in /opt/leeloo/node."
    candidate="$LEELOO_NODE"
  else
    candidate="$(command -v node || true)"
    if [[ -n "$candidate" ]] && under_home "$(readlink -f "$candidate")"; then
      warn "ignoring $candidate: it is under /home (nvm?), which the service cannot see."
      candidate=""
    fi
  fi
  if [[ -n "$candidate" ]] && node_ok "$candidate"; then
    NODE_BIN="$candidate"
    say "node $("$candidate" -v) at $candidate"
    return
  fi
  if node_ok "$NODE_DIR/bin/node"; then
    NODE_BIN="${NODE_DIR#"$ROOT"}/bin/node"
    say "node $("$NODE_DIR/bin/node" -v) at $NODE_DIR/bin/node"
    return
  fi
  if [[ -n "$candidate" ]]; then say "node $("$candidate" -v 2>/dev/null || echo '?') at $candidate is older than the release needs ($(required_node | tr ' ' .))"; fi
  install_node "$line" "$arch"
  NODE_BIN="${NODE_DIR#"$ROOT"}/bin/node"
}

# The official build from nodejs.org (or LEELOO_NODE_DIST), checked against its SHASUMS256.txt.
install_node() {
  local line="$1" arch="$2" base sums file tmp
  base="$NODE_DIST/latest-v$line.x"
  if [[ $DRY_RUN -eq 1 ]]; then
    ACTIONS=$((ACTIONS + 1))
    echo "would install: Node.js $line (official linux-$arch build from $base/, SHA-256 checked) into $NODE_DIR"
    return
  fi
  command -v curl >/dev/null 2>&1 || fail "curl is needed to download Node.js (sudo apt-get install -y curl)."
  tmp="$(mktemp -d)"
  sums="$(curl -fsSL "$base/SHASUMS256.txt")" || fail "cannot read $base/SHASUMS256.txt; is the Pi online?"
  file="$(awk -v a="linux-$arch.tar.xz" '$2 ~ a"$" { print $2; exit }' <<<"$sums")"
  [[ -n "$file" ]] || fail "$base has no linux-$arch build."
  run curl -fsSL -o "$tmp/$file" "$base/$file"
  (cd "$tmp" && grep " $file\$" <<<"$sums" | sha256sum -c --quiet -) || fail "$file does not match its SHA-256 in SHASUMS256.txt; not installing it."
  run mkdir -p "$NODE_DIR.new"
  run tar -xJf "$tmp/$file" -C "$NODE_DIR.new" --strip-components=1 --no-same-owner
  rm -rf "$NODE_DIR" "$tmp"
  run mv "$NODE_DIR.new" "$NODE_DIR"
}

node_run() { "$ROOT${NODE_BIN#"$ROOT"}" "$@" 2>/dev/null || node "$@"; }

# Copies the release, node_modules and all, into /opt/leeloo, unless the same release is
# there already (RELEASE is written last, so an interrupted copy is redone). No npm runs
# here: `npm ci` alone peaks near 190 MB, more than a 512 MB board can spare beside the OS.
install_app() {
  if [[ -f "$APP_DIR/RELEASE" && -d "$APP_DIR/node_modules" ]] && cmp -s "$SOURCE_DIR/RELEASE" "$APP_DIR/RELEASE"; then
    say "$APP_DIR holds this release already"
    check_addons
    return
  fi
  CHANGED=1
  [[ -d "$SOURCE_DIR/node_modules" || $DRY_RUN -eq 1 ]] || fail "$SOURCE_DIR has no node_modules/: it was built with --no-lock (for tests); build the release without it."
  run mkdir -p "$APP_DIR"
  run rm -rf "$APP_DIR/dist" "$APP_DIR/node_modules" "$APP_DIR/RELEASE"
  run cp -R "$SOURCE_DIR/dist" "$SOURCE_DIR/node_modules" "$SOURCE_DIR/package.json" "$SOURCE_DIR/package-lock.json" "$SOURCE_DIR/PLATFORM" "$SOURCE_DIR/systemd" "$SOURCE_DIR/docs" "$APP_DIR/"
  # The unit's ExecStart: runs releases/current (self-update) or this release.
  run install -D -m 0755 "$SOURCE_DIR/scripts/leeloo-launch.sh" "$APP_DIR/scripts/leeloo-launch.sh"
  if [[ -z "$ROOT" ]]; then run chown -R root:root "$APP_DIR"; fi
  run chmod -R u=rwX,go=rX "$APP_DIR"
  check_addons
  run cp "$SOURCE_DIR/RELEASE" "$APP_DIR/RELEASE"
}

# The spi driver needs onoff (its epoll addon) and spi-device, which the release ships
# prebuilt for this CPU and the Node line of node_target: they must load here. The input
# buttons and the fb driver need neither.
check_addons() {
  local addon error reason
  [[ "$DISPLAY_DRIVER" == "spi" ]] || return 0
  for addon in onoff spi-device; do
    if [[ $DRY_RUN -eq 1 ]]; then
      echo "would check: the $addon addon loads"
    elif ! error="$(cd "$APP_DIR" && "$ROOT${NODE_BIN#"$ROOT"}" -e "require('$addon')" 2>&1)"; then
      # Node's message spans lines; the ABI sentence, when that is the cause, says it all.
      reason="$(tr '\n' ' ' <<<"$error" | grep -o 'compiled against a different Node.js version using NODE_MODULE_VERSION [0-9]*\. This version of Node.js requires NODE_MODULE_VERSION [0-9]*' || grep -m1 'Error' <<<"$error")"
      fail "the prebuilt $addon addon does not load with $NODE_BIN ($("$ROOT${NODE_BIN#"$ROOT"}" -v)): ${reason}; the release's addons are for Node $(node_target | cut -d' ' -f1) on $(node_target | cut -d' ' -f2)."
    fi
  done
}

config_json() {
  LEELOO_RELAY_URL="$RELAY_URL" LEELOO_DEVICE_NAME="$DEVICE_NAME" LEELOO_CREW_CODE="${CREW_CODE^^}" \
  LEELOO_DISPLAY="$DISPLAY_DRIVER" LEELOO_FB="$FB_DEVICE" LEELOO_PANEL="$PANEL" LEELOO_FB_NAME="$(fb_name)" \
  LEELOO_GIFT="$GIFT" LEELOO_RELEASES="$APP_DIR/releases" \
  node_run -e '
    const e = process.env;
    const fb = { device: e.LEELOO_FB, ...(e.LEELOO_FB_NAME ? { name: e.LEELOO_FB_NAME } : {}) };
    const config = {
      relay: { url: e.LEELOO_RELAY_URL || "ws://127.0.0.1:8080/ws" },
      device: { name: e.LEELOO_DEVICE_NAME, crewCode: e.LEELOO_CREW_CODE || null },
      dataDir: "/var/lib/leeloo",
      display: { driver: e.LEELOO_DISPLAY, fb, spi: { panel: e.LEELOO_PANEL } },
      buttons: { driver: e.LEELOO_DISPLAY === "sim" ? "sim" : "input" },
      // --gift: the first start opens the setup access point (README "Setting up a LEELOO you were given").
      setup: e.LEELOO_GIFT === "1" ? { done: false, network: "nmcli" } : undefined,
      update: e.LEELOO_GIFT === "1" ? { releasesDir: e.LEELOO_RELEASES } : undefined,
    };
    console.log(JSON.stringify(config, null, 2));'
}

write_config() {
  if [[ -f "$CONFIG_FILE" ]]; then
    say "keeping the existing config $CONFIG_FILE"
    return
  fi
  [[ -n "$RELAY_URL" ]] || warn "no --relay-url given; the config points at ws://127.0.0.1:8080/ws."
  CHANGED=1
  config_json | put_file "$CONFIG_FILE" 0640 || true
  if [[ -z "$ROOT" ]]; then run chown "root:$SERVICE_USER" "$CONFIG_FILE"; fi
}

boot_config_path() {
  if [[ -n "${LEELOO_BOOT_CONFIG:-}" ]]; then echo "$LEELOO_BOOT_CONFIG"; return; fi
  for candidate in "$ROOT/boot/firmware/config.txt" "$ROOT/boot/config.txt"; do
    if [[ -f "$candidate" ]]; then echo "$candidate"; return; fi
  done
  echo ""
}

# The lines of config.txt that apply to every board: outside any [filter] section
# other than [all] (a line under [pi4] applies to a Pi 4 only, under [none] to none).
# Comments and leading blanks are stripped.
active_boot_lines() {
  awk '
    { sub(/#.*/, ""); gsub(/^[ \t]+|[ \t\r]+$/, "") }
    /^\[.*\]$/ { section = tolower($0); next }
    $0 != "" && (section == "" || section == "[all]") { print }
  ' "$1"
}

# Whether the last dtparam that mentions spi turns it on: dtparam=spi=on,
# dtparam=i2c_arm=on,spi=on and a bare dtparam=spi all do; spi=off undoes them.
spi_enabled() {
  active_boot_lines "$1" | awk -F'=' '
    /^dtparam=/ {
      n = split(substr($0, 9), params, ",")
      for (i = 1; i <= n; i++) {
        split(params[i], kv, "=")
        if (kv[1] == "spi") state = (kv[2] == "" || kv[2] == "on" || kv[2] == "true" || kv[2] == "yes" || kv[2] == "1") ? "on" : "off"
      }
    }
    END { exit state == "on" ? 0 : 1 }'
}

# Appends a line to config.txt under an [all] filter (a line after a [pi4] or [cm5]
# section would apply to that board only). Takes effect at the next boot.
append_boot_line() { boot_change "append to $1: $2" append_under_all "$1" "$2" "$3"; }
append_under_all() { printf '\n# %s (added by LEELOO install-pi.sh)\n[all]\n%s\n' "$3" "$2" >> "$1"; }

# A change to the boot files: counted, printed, made unless dry run; it takes effect at the next boot.
boot_change() {
  local what="$1"
  shift
  ACTIONS=$((ACTIONS + 1))
  REBOOT=1
  if [[ $DRY_RUN -eq 1 ]]; then
    echo "would $what"
  else
    echo "+ $what"
    "$@"
  fi
}

# "name pin keycode" of each button, and "rotary A B" when the config has an encoder.
button_map() {
  LEELOO_CONFIG_FILE="$CONFIG_FILE" node_run -e '
    const fs = require("fs");
    let buttons = {};
    try { buttons = JSON.parse(fs.readFileSync(process.env.LEELOO_CONFIG_FILE, "utf8")).buttons ?? {}; } catch {}
    const pins = { prev: 5, next: 6, primary: 13, secondary: 19, ...(buttons.gpio?.pins ?? {}) };
    const keys = { prev: 105, next: 106, primary: 28, secondary: 1, ...(buttons.input?.keys ?? {}) };
    for (const [name, pin] of Object.entries(pins)) if (Number.isInteger(pin) && Number.isInteger(keys[name])) console.log(name, pin, keys[name]);
    const rotary = buttons.gpio?.rotary;
    if (rotary) console.log("rotary", rotary.a, rotary.b);'
}

# The kernel drivers read the buttons (gpio-key: debounced, pulled up, queued events)
# and the encoder (rotary-encoder, relative_axis=1: one REL_X event per detent).
check_input_overlays() {
  local boot="$1" active name pin key a b
  active="$(active_boot_lines "$boot")"
  while read -r name pin key; do
    if [[ "$name" == "rotary" ]]; then
      a="$pin"; b="$key"
      if grep -Eq "^dtoverlay=rotary-encoder,(.*,)?pin_a=$a(,|$)" <<<"$active"; then
        say "the rotary encoder overlay for GPIO $a/$b is in $boot"
      else
        append_boot_line "$boot" "dtoverlay=rotary-encoder,pin_a=$a,pin_b=$b,relative_axis=1" "rotary encoder (input driver)"
      fi
    elif grep -Eq "^dtoverlay=gpio-key,(.*,)?gpio=$pin(,|$)" <<<"$active"; then
      say "the $name button overlay (GPIO $pin) is in $boot"
    else
      append_boot_line "$boot" "dtoverlay=gpio-key,gpio=$pin,active_low=1,keycode=$key,label=leeloo-$name" "$name button (input driver)"
    fi
  done < <(button_map)
}

# The panel framebuffer's sysfs name for the overlay in config.txt, so the daemon finds
# it whatever its number and never draws into HDMI.
fb_name() {
  local boot
  boot="$(boot_config_path)"
  [[ -n "$boot" && -f "$boot" ]] || return 0
  active_boot_lines "$boot" | awk '
    /^dtoverlay=piscreen,(.*,)?drm(,|$)/ { print "ili9486drmfb"; exit }
    /^dtoverlay=(piscreen|waveshare35a|tft35a)(,|$)/ { print "fb_ili9486"; exit }'
}

check_boot() {
  local boot
  boot="$(boot_config_path)"
  if [[ -z "$boot" || ! -f "$boot" ]]; then
    warn "no config.txt under $ROOT/boot/firmware or $ROOT/boot; cannot check SPI and the button overlays."
    return
  fi
  [[ "$DISPLAY_DRIVER" != "sim" ]] || return 0
  if spi_enabled "$boot"; then
    say "SPI is enabled in $boot"
  else
    append_boot_line "$boot" "dtparam=spi=on" "SPI for the LCD"
  fi
  check_input_overlays "$boot"
  local overlay
  overlay="$(active_boot_lines "$boot" | grep -E '^dtoverlay=(waveshare35a|piscreen|mipi-dbi-spi|fbtft|tft35a|adafruit|pitft)' || true)"
  if [[ "$DISPLAY_DRIVER" == "fb" && -z "$overlay" ]]; then
    warn "no panel overlay in $boot: for the Waveshare 3.5\" (A) add 'dtoverlay=piscreen,drm,speed=16000000' (DRM driver: only changed rectangles go over SPI; its rotation 0 is already landscape) and reboot."
  elif [[ "$DISPLAY_DRIVER" == "fb" && "$overlay" != *drm* && "$overlay" == *piscreen* ]]; then
    warn "$boot loads the fbtft panel driver ($overlay), which repaints the whole screen on every change; add ',drm' for the DRM driver (docs/HARDWARE.md)."
  elif [[ "$DISPLAY_DRIVER" == "spi" && -n "$overlay" ]]; then
    warn "$boot loads a panel overlay ($overlay) that claims the SPI chip select; remove it for --display spi."
  fi
  [[ "$DISPLAY_DRIVER" == "fb" ]] && keep_console_off_panel "$boot"
  return 0
}

# fbcon would draw the boot console onto the panel framebuffer: map the consoles to fb0
# (HDMI) on the kernel command line, next to config.txt.
keep_console_off_panel() {
  local cmdline
  cmdline="$(dirname "$1")/cmdline.txt"
  if [[ ! -f "$cmdline" ]]; then
    warn "no $cmdline; the boot console may draw on the panel (add fbcon=map:0 to the kernel command line)."
  elif grep -q 'fbcon=' "$cmdline"; then
    say "$cmdline already maps fbcon"
  else
    boot_change "add to $cmdline: fbcon=map:0" sed -i '1 s/$/ fbcon=map:0/' "$cmdline"
  fi
}

# spidev loaded at boot by systemd-modules-load, before any service: DeviceAllow=char-spi
# is resolved from /proc/devices when the unit starts, and finds no "spi" major otherwise.
load_spidev() {
  [[ "$DISPLAY_DRIVER" == "spi" ]] || return 0
  printf '# spidev before leeloo-device.service (DeviceAllow=char-spi)\nspidev\n' | put_file "$MODULES_FILE" 0644 && CHANGED=1
  if [[ -z "$ROOT" && $DRY_RUN -eq 0 ]] && ! grep -qw spi /proc/devices; then run modprobe spidev; fi
  return 0
}

# The groups the unit names: Pi OS has them, with udev rules that give them the devices;
# elsewhere they are created so the unit starts (they then grant nothing).
create_user() {
  if id -u "$SERVICE_USER" >/dev/null 2>&1; then
    say "user $SERVICE_USER exists"
  else
    run useradd --system --user-group --home-dir /var/lib/leeloo --no-create-home --shell /usr/sbin/nologin "$SERVICE_USER"
  fi
  local group
  for group in gpio spi video input; do
    if ! getent group "$group" >/dev/null 2>&1; then
      warn "group $group does not exist (not Raspberry Pi OS?); creating it so the unit starts."
      run groupadd --system "$group"
    fi
    if ! id -nG "$SERVICE_USER" 2>/dev/null | tr ' ' '\n' | grep -qx "$group"; then
      run usermod --append --groups "$group" "$SERVICE_USER"
    fi
  done
}

# --gift: what setup mode needs from the system. NetworkManager's shared-mode dnsmasq
# answers every name with the gadget's address (so phones find the captive portal), the
# service user may drive NetworkManager (polkit), and it may rewrite its config and
# unpack releases.
install_setup_mode() {
  [[ $GIFT -eq 1 ]] || return 0
  echo 'address=/#/10.42.0.1' | put_file "$ROOT/etc/NetworkManager/dnsmasq-shared.d/leeloo-captive.conf" 0644 || true
  cat <<RULES | put_file "$ROOT/etc/polkit-1/rules.d/50-leeloo-network.rules" 0644 || true
polkit.addRule(function (action, subject) {
  if (action.id.indexOf("org.freedesktop.NetworkManager.") === 0 && subject.user === "$SERVICE_USER") return polkit.Result.YES;
});
RULES
  if [[ -z "$ROOT" ]]; then
    run install -d -o "$SERVICE_USER" -g "$SERVICE_USER" -m 0750 "$APP_DIR/releases"
    run chown "$SERVICE_USER:$SERVICE_USER" "$(dirname "$CONFIG_FILE")" "$CONFIG_FILE"
  fi
}

install_unit() {
  local unit="$UNIT_DIR/leeloo-device.service" app="${APP_DIR#"$ROOT"}"
  sed -e "s#/opt/leeloo/node/bin/node#$NODE_BIN#g" -e "s#/opt/leeloo#$app#g" \
    -e "s#^User=leeloo\$#User=$SERVICE_USER#" -e "s#^Group=leeloo\$#Group=$SERVICE_USER#" \
    -e "s#--config /etc/leeloo/device.json#--config ${CONFIG_FILE#"$ROOT"}#" \
    "$SOURCE_DIR/systemd/leeloo-device.service" \
    | put_file "$unit" 0644 && { CHANGED=1; run systemctl daemon-reload; }
  if [[ -n "$ROOT" && $DRY_RUN -eq 0 ]]; then
    say "LEELOO_ROOT is set: not touching the running systemd"
    return
  fi
  if [[ $DRY_RUN -eq 1 ]] || ! systemctl is-enabled --quiet leeloo-device.service 2>/dev/null; then
    run systemctl enable leeloo-device.service
  fi
  [[ $START -eq 1 ]] || return 0
  if [[ $CHANGED -eq 1 ]]; then
    run systemctl restart leeloo-device.service
  elif [[ $DRY_RUN -eq 0 ]] && ! systemctl is-active --quiet leeloo-device.service; then
    run systemctl start leeloo-device.service
  else
    say "nothing changed: leeloo-device keeps running"
  fi
}

check_inputs
check_source
ensure_node
install_app
create_user
write_config
check_boot
load_spidev
install_setup_mode
install_unit
if [[ $REBOOT -eq 1 && $DRY_RUN -eq 0 ]]; then
  say "config.txt changed: reboot for it to take effect (sudo reboot)"
fi
if [[ $DRY_RUN -eq 1 ]]; then
  say "dry run: $ACTIONS actions planned, $WARNINGS warnings, nothing changed"
else
  say "done: $ACTIONS actions, $WARNINGS warnings; follow it with: journalctl -u leeloo-device -f"
fi
