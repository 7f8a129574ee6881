import { SerialPort } from 'serialport';
import { DutError } from '../errors.ts';

/**
 * Opens a serial line: a USB-serial adapter on a farm, or the pty QEMU gives
 * its guest's UART. Both go through the same `serialport` code path, so a
 * QEMU board exercises the driver a physical board uses.
 */
export async function openSerialLine(device: string, baudRate: number, dut: string): Promise<SerialPort> {
  const port = new SerialPort({ path: device, baudRate, autoOpen: false });
  await new Promise<void>((resolve, reject) => {
    port.open((error) => {
      if (error) reject(new DutError('console-lost', `cannot open serial line ${device}: ${error.message}`, { dut, step: 'open console' }));
      else resolve();
    });
  });
  return port;
}

export async function closeSerialLine(port: SerialPort): Promise<void> {
  if (!port.isOpen) return;
  await new Promise<void>((resolve) => port.close(() => resolve()));
}
