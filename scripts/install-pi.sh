#!/usr/bin/env bash
# Installs the LEELOO device daemon on a Raspberry Pi: Node dependencies, build,
# config, SPI and button pull-ups in config.txt, service user, systemd unit. Safe to
# run again: every step checks first and changes only what differs; an existing
# config is never overwritten.
#
#   sudo scripts/install-pi.sh --relay-url wss://leeloo.example.com/ws --name Kitchen
#   scripts/install-pi.sh --dry-run          prints every action, changes nothing
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
# system path), LEELOO_APP_DIR, LEELOO_CONFIG, LEELOO_UNIT_DIR, LEELOO_BOOT_CONFIG,
# LEELOO_USER.
set -euo pipefail

APP_DIR="${LEELOO_APP_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
ROOT="${LEELOO_ROOT:-}"
CONFIG_FILE="${LEELOO_CONFIG:-$ROOT/etc/leeloo/device.json}"
UNIT_DIR="${LEELOO_UNIT_DIR:-$ROOT/etc/systemd/system}"
SERVICE_USER="${LEELOO_USER:-leeloo}"
RELAY_URL="${LEELOO_RELAY_URL:-}"
DEVICE_NAME="${LEELOO_DEVICE_NAME:-LEELOO}"
CREW_CODE="${LEELOO_CREW_CODE:-}"
DISPLAY_DRIVER="${LEELOO_DISPLAY:-fb}"
FB_DEVICE="${LEELOO_FB:-/dev/fb1}"
PANEL="${LEELOO_PANEL:-ili9486}"
DRY_RUN=0
REBOOT=0
START=1
GIFT=0
ACTIONS=0
WARNINGS=0

usage() { sed -n '2,23p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

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

check_inputs() {
  case "$DISPLAY_DRIVER" in fb|spi|sim) ;; *) fail "--display must be fb, spi or sim, not '$DISPLAY_DRIVER'." ;; esac
  case "$PANEL" in ili9486|st7796|st7789|ili9341) ;; *) fail "--panel must be ili9486, st7796, st7789 or ili9341, not '$PANEL'." ;; esac
  [[ "$FB_DEVICE" =~ ^/dev/fb[0-9]+$ ]] || fail "--fb must look like /dev/fb1, not '$FB_DEVICE'."
  [[ -z "$RELAY_URL" || "$RELAY_URL" =~ ^wss?://[^[:space:]]+$ ]] || fail "--relay-url must be a ws:// or wss:// URL, not '$RELAY_URL'."
  [[ -z "$CREW_CODE" || "${CREW_CODE^^}" =~ ^LEELOO-[A-HJ-NP-Z2-9]{4}$ ]] || fail "--crew must look like LEELOO-XXXX, not '$CREW_CODE'."
  if [[ $DRY_RUN -eq 0 && -z "$ROOT" && $EUID -ne 0 ]]; then
    fail "run as root (sudo), or with --dry-run to see the plan."
  fi
}

check_node() {
  command -v node >/dev/null 2>&1 || fail "node is not installed; install Node.js 20 or newer first."
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  [[ "$major" -ge 20 ]] || fail "node $(node -v) is too old; LEELOO needs Node.js 20 or newer."
  say "node $(node -v) at $(command -v node)"
}

build_app() {
  run npm --prefix "$APP_DIR" ci --no-audit --no-fund
  run npm --prefix "$APP_DIR" run build
  check_addons
}

# onoff and spi-device are optional dependencies (npm goes on when they fail to build),
# but a gadget needs them: say so here rather than when the daemon starts.
check_addons() {
  local addon
  for addon in onoff spi-device; do
    if [[ $DRY_RUN -eq 1 ]]; then
      echo "would check: the $addon addon loads"
    elif ! (cd "$APP_DIR" && node -e "require('$addon')") >/dev/null 2>&1; then
      fail "the $addon addon did not build; install the build tools (sudo apt-get install -y build-essential python3) and run this script again."
    fi
  done
}

config_json() {
  LEELOO_RELAY_URL="$RELAY_URL" LEELOO_DEVICE_NAME="$DEVICE_NAME" LEELOO_CREW_CODE="${CREW_CODE^^}" \
  LEELOO_DISPLAY="$DISPLAY_DRIVER" LEELOO_FB="$FB_DEVICE" LEELOO_PANEL="$PANEL" \
  LEELOO_GIFT="$GIFT" LEELOO_RELEASES="$APP_DIR/releases" \
  node -e '
    const e = process.env;
    const config = {
      relay: { url: e.LEELOO_RELAY_URL || "ws://127.0.0.1:8080/ws" },
      device: { name: e.LEELOO_DEVICE_NAME, crewCode: e.LEELOO_CREW_CODE || null },
      dataDir: "/var/lib/leeloo",
      display: { driver: e.LEELOO_DISPLAY, fb: { device: e.LEELOO_FB }, spi: { panel: e.LEELOO_PANEL } },
      buttons: { driver: e.LEELOO_DISPLAY === "sim" ? "sim" : "gpio" },
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

# Appends a line to config.txt under an [all] filter (a line after a [pi4] or [cm5]
# section would apply to that board only). Takes effect at the next boot.
append_boot_line() {
  local boot="$1" line="$2" why="$3"
  ACTIONS=$((ACTIONS + 1))
  REBOOT=1
  if [[ $DRY_RUN -eq 1 ]]; then
    echo "would append to $boot: $line"
  else
    echo "+ append to $boot: $line"
    printf '\n# %s (added by LEELOO install-pi.sh)\n[all]\n%s\n' "$why" "$line" >> "$boot"
  fi
}

# BCM pins of the buttons and rotary encoder in the config (the defaults before one exists).
button_pins() {
  LEELOO_CONFIG_FILE="$CONFIG_FILE" node -e '
    const fs = require("fs");
    let gpio = {};
    try { gpio = JSON.parse(fs.readFileSync(process.env.LEELOO_CONFIG_FILE, "utf8")).buttons?.gpio ?? {}; } catch {}
    const pins = Object.values({ prev: 5, next: 6, primary: 13, secondary: 19, ...(gpio.pins ?? {}) });
    if (gpio.rotary) pins.push(gpio.rotary.a, gpio.rotary.b);
    console.log(pins.filter((pin) => Number.isInteger(pin)).join(" "));'
}

# Pins some active gpio=LIST=…,pu line of config.txt already pulls up (LIST: 5,6 or 5-6).
pulled_up_pins() {
  local from to
  { grep -E '^[[:space:]]*gpio=[0-9,-]+=([a-z0-9]+,)*pu([,[:space:]#]|$)' "$1" || true; } \
    | sed -E 's/^[[:space:]]*gpio=([0-9,-]+)=.*/\1/' | tr ',' '\n' \
    | while IFS=- read -r from to; do if [[ -n "$from" ]]; then seq "$from" "${to:-$from}"; fi; done
}

check_spi() {
  local boot
  boot="$(boot_config_path)"
  if [[ -z "$boot" || ! -f "$boot" ]]; then
    warn "no config.txt under $ROOT/boot/firmware or $ROOT/boot; cannot check that SPI is on and the buttons have pull-ups."
    return
  fi
  if grep -Eq '^[[:space:]]*dtparam=spi=on' "$boot"; then
    say "SPI is enabled in $boot"
  elif [[ "$DISPLAY_DRIVER" != "sim" ]]; then
    append_boot_line "$boot" "dtparam=spi=on" "SPI for the LCD"
  fi
  if [[ "$DISPLAY_DRIVER" != "sim" ]]; then
    local pin missing=() pulled
    pulled=" $(pulled_up_pins "$boot" | tr '\n' ' ') "
    for pin in $(button_pins); do
      [[ "$pulled" == *" $pin "* ]] || missing+=("$pin")
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
      say "the button pins have pull-ups in $boot"
    else
      # sysfs GPIO cannot switch pull resistors and GPIO 9-27 come up pulled down.
      append_boot_line "$boot" "gpio=$(IFS=,; echo "${missing[*]}")=ip,pu" "pull-ups for the buttons (wired to ground)"
    fi
  fi
  local overlay
  overlay="$(grep -E '^[[:space:]]*dtoverlay=(waveshare35a|piscreen|mipi-dbi-spi|fbtft|tft35a|adafruit|pitft)' "$boot" || true)"
  if [[ "$DISPLAY_DRIVER" == "fb" && -z "$overlay" ]]; then
    warn "no panel overlay in $boot: for the Waveshare 3.5\" (A) add 'dtoverlay=piscreen,speed=16000000,rotate=90' (or the vendor's waveshare35a overlay) and reboot; /dev/fb1 appears then."
  elif [[ "$DISPLAY_DRIVER" == "spi" && -n "$overlay" ]]; then
    warn "$boot loads a panel overlay ($overlay) that claims the SPI chip select; remove it for --display spi."
  fi
}

create_user() {
  if id -u "$SERVICE_USER" >/dev/null 2>&1; then
    say "user $SERVICE_USER exists"
  else
    run useradd --system --user-group --home-dir /var/lib/leeloo --no-create-home --shell /usr/sbin/nologin "$SERVICE_USER"
  fi
  local group
  for group in gpio spi video; do
    if ! getent group "$group" >/dev/null 2>&1; then
      warn "group $group does not exist (not Raspberry Pi OS?); the service will lack access through it."
    elif ! id -nG "$SERVICE_USER" 2>/dev/null | tr ' ' '\n' | grep -qx "$group"; then
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
  local unit="$UNIT_DIR/leeloo-device.service" node_bin changed=0
  node_bin="$(command -v node)"
  sed -e "s#/opt/leeloo#$APP_DIR#g" -e "s#/usr/bin/node#$node_bin#g" \
    -e "s#^User=leeloo\$#User=$SERVICE_USER#" -e "s#^Group=leeloo\$#Group=$SERVICE_USER#" \
    -e "s#--config /etc/leeloo/device.json#--config ${CONFIG_FILE#"$ROOT"}#" \
    "$APP_DIR/systemd/leeloo-device.service" \
    | put_file "$unit" 0644 && changed=1
  if [[ $changed -eq 1 ]]; then run systemctl daemon-reload; fi
  if [[ -n "$ROOT" && $DRY_RUN -eq 0 ]]; then
    say "LEELOO_ROOT is set: not touching the running systemd"
    return
  fi
  run systemctl enable leeloo-device.service
  if [[ $START -eq 1 ]]; then run systemctl restart leeloo-device.service; fi
}

check_inputs
check_node
build_app
create_user
write_config
install_setup_mode
check_spi
install_unit
if [[ $REBOOT -eq 1 && $DRY_RUN -eq 0 ]]; then
  say "config.txt changed: reboot for it to take effect (sudo reboot)"
fi
if [[ $DRY_RUN -eq 1 ]]; then
  say "dry run: $ACTIONS actions planned, $WARNINGS warnings, nothing changed"
else
  say "done: $ACTIONS actions, $WARNINGS warnings; follow it with: journalctl -u leeloo-device -f"
fi
