/**
 * The shape of a device release, shared by the script that builds it
 * (scripts/build-device-release.ts), the installer that copies it (scripts/install-pi.sh,
 * which runs from inside it) and the self-update that unpacks it (device/self-update.ts):
 *
 *   leeloo-device-VERSION-linux-ARCH.tgz
 *     leeloo-device/           the one folder at the tarball's top (RELEASE_TOP)
 *       package.json           name leeloo-device, the version
 *       dist/device/main.js    the daemon
 *       node_modules/          installed for the CPU, with the spi addons prebuilt
 *       PLATFORM               "linux-ARCH"
 *       RELEASE                "leeloo-device VERSION SHA256 linux-ARCH", written last
 *       scripts/install-pi.sh
 */
export const RELEASE_TOP = 'leeloo-device';
export const RELEASE_MAIN = 'dist/device/main.js';
export const PLATFORM_FILE = 'PLATFORM';
export const RELEASE_FILE = 'RELEASE';

/** The release CPU names (`uname -m` on Pi OS, as official Node builds name them) for Node's process.arch. */
export const RELEASE_ARCH: Readonly<Record<string, string>> = { arm: 'armv7l', arm64: 'arm64', x64: 'x64' };

export function releaseTarballName(version: string, platform: string): string {
  return `${RELEASE_TOP}-${version}-${platform}.tgz`;
}

/** "linux-ARCH" of the machine running this, as a release's PLATFORM file names it. */
export function thisPlatform(arch: string = process.arch): string {
  return `linux-${RELEASE_ARCH[arch] ?? arch}`;
}
