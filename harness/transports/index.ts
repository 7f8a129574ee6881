/** Transports a DUT binds: SSH over the network, or the serial console when the network is down. */
export { SerialTransport, type SerialTransportOptions } from './serial.ts';
export { SshTransport, type ReconnectOptions, type SshConnectOptions, type SshExecOptions } from './ssh.ts';
export { fingerprintOf, generateRunKey, type HostKeySeen, type RunKey } from './ssh-keys.ts';
export {
  describeStats,
  TransferError,
  type ExecOptions,
  type ExecResult,
  type GetOptions,
  type PutOptions,
  type TransferFailure,
  type TransferStats,
  type Transport,
} from './types.ts';
