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

const locator = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  maxProperties: 1,
  properties: {
    device: { type: 'string', pattern: '^/' },
    match: { type: 'object', minProperties: 1, additionalProperties: { type: 'string', minLength: 1 } },
  },
} as const;

const bauds = { enum: [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600, 1500000] } as const;
const tcpPort = { type: 'integer', minimum: 1, maximum: 65535 } as const;
const ms = { type: 'integer', minimum: 0, maximum: 3_600_000 } as const;
const argv = { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } } as const;
const httpUrl = { type: 'string', pattern: '^https?://' } as const;

/** A `oneOf` discriminated on `kind`, every branch closed. */
function byKind<B extends Record<string, { required?: readonly string[]; properties: Record<string, unknown> }>>(branches: B, shared: Record<string, unknown> = {}) {
  return {
    type: 'object',
    required: ['kind'],
    discriminator: { propertyName: 'kind' },
    oneOf: Object.entries(branches).map(([kind, branch]) => ({
      additionalProperties: false,
      required: ['kind', ...(branch.required ?? [])],
      properties: { kind: { enum: [kind] }, ...shared, ...branch.properties },
    })),
  } as const;
}

const physicalConsole = byKind({
  serial: { required: ['port'], properties: { port: locator, baud: bauds } },
  ser2net: { required: ['host', 'port'], properties: { host: nonEmpty, port: tcpPort, protocol: { enum: ['raw', 'rfc2217'] }, baud: bauds } },
});

const power = byKind(
  {
    lcus: { required: ['port'], properties: { port: locator, channel: { type: 'integer', minimum: 1, maximum: 8 }, baud: bauds, status: { type: 'boolean' } } },
    usbrelay: { required: ['relay'], properties: { relay: { type: 'string', pattern: '^[A-Za-z0-9]+_[0-9]+$' }, command: nonEmpty } },
    gpio: { required: ['chip', 'line'], properties: { chip: nonEmpty, line: { type: 'integer', minimum: 0 }, activeLow: { type: 'boolean' }, command: nonEmpty } },
    tasmota: { required: ['url'], properties: { url: httpUrl, output: { type: 'integer', minimum: 1, maximum: 8 } } },
    shelly: { required: ['url'], properties: { url: httpUrl, switch: { type: 'integer', minimum: 0, maximum: 8 } } },
    command: { required: ['on', 'off'], properties: { on: argv, off: argv, status: argv } },
  },
  { minOffMs: ms, timeoutMs: { type: 'integer', minimum: 100, maximum: 600_000 } },
);

const storage = byKind(
  {
    usbsdmux: { required: ['control', 'medium'], properties: { control: locator, command: nonEmpty } },
    sdwire: { required: ['serial', 'medium'], properties: { serial: nonEmpty, command: nonEmpty } },
    command: { required: ['host', 'dut', 'medium'], properties: { host: argv, dut: argv } },
  },
  { medium: locator, verify: { type: 'boolean' }, timeoutMs: { type: 'integer', minimum: 100, maximum: 600_000 } },
);

const network = byKind(
  {
    static: { required: ['host'], properties: { host: nonEmpty } },
    'dhcp-leases': { required: ['file', 'mac'], properties: { file: { type: 'string', pattern: '^/' }, mac: { type: 'string', pattern: '^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$' } } },
    console: { properties: { interface: nonEmpty } },
  },
  { port: tcpPort, hostAddress: nonEmpty, ports: { type: 'object', propertyNames: { pattern: '^[1-9][0-9]{0,4}$' }, additionalProperties: tcpPort } },
);

const rig = {
  type: 'object',
  additionalProperties: false,
  properties: {
    cardMiB: { type: 'integer', minimum: 64, maximum: 1_048_576 },
    power: { enum: ['lcus', 'tasmota', 'usbrelay'] },
    console: { enum: ['serial', 'ser2net-raw', 'ser2net-rfc2217'] },
    dir: nonEmpty,
    forwardPorts: { type: 'array', items: tcpPort, uniqueItems: true },
  },
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
        console: physicalConsole,
        power,
        storage,
        network,
      },
    },
    {
      additionalProperties: false,
      required: ['name', 'deviceType', 'kind'],
      properties: { ...common, kind: { enum: ['virtual'] }, qemu: qemuSettings, rig },
    },
  ],
} as const;

/** Human wording for `pattern` keywords, keyed by the pattern. */
export const patternHints: Record<string, string> = {
  '^/': 'must be an absolute path',
  '^https?://': 'must be an http:// or https:// URL',
  '^[A-Za-z0-9]+_[0-9]+$': 'must be a relay name as usbrelay lists it, like HURTM_1',
  '^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$': 'must be a MAC address like dc:a6:32:01:02:03',
  '^[a-z0-9][a-z0-9._-]*$': 'lower-case letters, digits, ".", "_" or "-", starting with a letter or digit',
};
