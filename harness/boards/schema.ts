/**
 * JSON Schema of a board file. Hand-written next to types.ts rather than
 * derived (JSONSchemaType cannot express the discriminated unions well); the
 * unit tests load every file in boards/ so the two cannot drift silently.
 *
 * Every object has `additionalProperties: false` so a misspelt key is an
 * error, not a silently ignored setting. Unions use ajv's `discriminator`
 * keyword: ajv then validates only the branch the `kind` names, so errors
 * are about that branch instead of a wall of "must match oneOf".
 */

const nonEmpty = { type: 'string', minLength: 1 } as const;

const qemuSettings = {
  type: 'object',
  additionalProperties: false,
  properties: {
    machine: { enum: ['q35', 'pc'] },
    firmware: { enum: ['uefi', 'bios'] },
    memory: { type: 'integer', minimum: 128, maximum: 65536 },
    cpus: { type: 'integer', minimum: 1, maximum: 64 },
    accel: { enum: ['auto', 'kvm', 'tcg'] },
    diskBus: { enum: ['virtio', 'sata', 'usb'] },
    network: { enum: ['user', 'none'] },
    sshGuestPort: { type: 'integer', minimum: 1, maximum: 65535 },
    cpu: nonEmpty,
  },
} as const;

const serialConsole = {
  type: 'object',
  additionalProperties: false,
  required: ['kind', 'device', 'baud'],
  properties: {
    kind: { enum: ['serial'] },
    device: nonEmpty,
    baud: { enum: [9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600, 1500000] },
  },
} as const;

const power = {
  type: 'object',
  required: ['kind'],
  discriminator: { propertyName: 'kind' },
  oneOf: [
    {
      additionalProperties: false,
      required: ['kind', 'device', 'channel'],
      properties: {
        kind: { enum: ['usb-relay'] },
        device: nonEmpty,
        channel: { type: 'integer', minimum: 0, maximum: 63 },
      },
    },
    {
      additionalProperties: false,
      required: ['kind', 'on', 'off'],
      properties: {
        kind: { enum: ['command'] },
        on: { type: 'array', minItems: 1, items: { type: 'string' } },
        off: { type: 'array', minItems: 1, items: { type: 'string' } },
      },
    },
    {
      additionalProperties: false,
      required: ['kind'],
      properties: { kind: { enum: ['manual'] } },
    },
  ],
} as const;

const storage = {
  type: 'object',
  required: ['kind'],
  discriminator: { propertyName: 'kind' },
  oneOf: [
    {
      additionalProperties: false,
      required: ['kind', 'model', 'device'],
      properties: {
        kind: { enum: ['sd-mux'] },
        model: { enum: ['usbsdmux', 'sdwire'] },
        device: nonEmpty,
      },
    },
  ],
} as const;

const common = {
  name: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]*$' },
  deviceType: nonEmpty,
} as const;

export const boardSchema = {
  type: 'object',
  required: ['kind'],
  discriminator: { propertyName: 'kind' },
  oneOf: [
    {
      additionalProperties: false,
      required: ['name', 'deviceType', 'kind', 'qemu'],
      properties: {
        ...common,
        kind: { enum: ['qemu'] },
        qemu: qemuSettings,
        console: {
          type: 'object',
          additionalProperties: false,
          required: ['kind'],
          properties: { kind: { enum: ['qemu-serial'] } },
        },
      },
    },
    {
      additionalProperties: false,
      required: ['name', 'deviceType', 'kind', 'console', 'power', 'storage'],
      properties: {
        ...common,
        kind: { enum: ['physical'] },
        console: serialConsole,
        power,
        storage,
      },
    },
  ],
} as const;

/** Human wording for `pattern` keywords, keyed by the pattern. */
export const patternHints: Record<string, string> = {
  '^[a-z0-9][a-z0-9._-]*$': 'lower-case letters, digits, ".", "_" or "-", starting with a letter or digit',
};
