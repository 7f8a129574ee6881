import type { UsbRelayPower } from '../../boards/types.ts';
import { runBoardCommand } from './run-command.ts';
import type { PowerSwitch } from './switched.ts';

/**
 * A HID relay board through Debian's `usbrelay`: `usbrelay <NAME_N>=1|0`
 * switches, and every run lists each relay it finds as `NAME_N=0|1`, so a
 * run without arguments reads the state back. A relay that is not plugged in
 * is simply absent from the list (and a switch of it exits non-zero).
 */
export function usbRelaySwitch(config: UsbRelayPower): PowerSwitch {
  return {
    device: `USB relay ${config.relay}`,
    async set(on, signal) {
      await runBoardCommand([config.command, `${config.relay}=${on ? 1 : 0}`], signal);
    },
    async get(signal) {
      const listing = await runBoardCommand([config.command], signal);
      const states = parseUsbRelayListing(listing);
      const state = states.get(config.relay);
      if (state === undefined) throw new Error(`\`${config.command}\` does not list ${config.relay} (it lists: ${[...states.keys()].join(', ') || 'no relay'})`);
      return state;
    },
  };
}

/** The `HURTM_1=1` lines of a listing, by relay name. */
export function parseUsbRelayListing(listing: string): Map<string, boolean> {
  const states = new Map<string, boolean>();
  for (const line of listing.split('\n')) {
    const match = /^(\S+_\d+)=([01])$/.exec(line.trim());
    if (match) states.set(match[1] as string, match[2] === '1');
  }
  return states;
}
