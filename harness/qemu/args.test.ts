import test from 'ava';
import { QEMU_DEFAULTS, type QemuSettings } from '../boards/types.ts';
import { buildQemuArgs, escapeOpt, type QemuArgsInput } from './args.ts';

const paths = {
  serialLog: '/run/r1/serial.log',
  qmpSocket: '/run/r1/qmp.sock',
  pidfile: '/run/r1/qemu.pid',
};

function input(settings: Partial<QemuSettings> = {}, extra: Partial<QemuArgsInput> = {}): QemuArgsInput {
  return {
    settings: { ...QEMU_DEFAULTS, ...settings },
    accel: 'tcg',
    overlay: '/run/r1/overlay.qcow2',
    firmwareCode: '/usr/share/OVMF/OVMF_CODE_4M.fd',
    firmwareVars: '/run/r1/vars.qcow2',
    sshHostPort: 40022,
    startPaused: false,
    ...paths,
    ...extra,
  };
}

/** Value following each occurrence of `flag`. */
function values(args: string[], flag: string): string[] {
  return args.flatMap((a, i) => (a === flag && args[i + 1] !== undefined ? [args[i + 1] as string] : []));
}

test('defaults: a q35 UEFI VM with a virtio overlay disk, pty serial, QMP, pidfile, user net', (t) => {
  const args = buildQemuArgs(input());
  t.deepEqual(args.slice(0, 4), ['-nodefaults', '-no-user-config', '-display', 'none']);
  t.deepEqual(values(args, '-machine'), ['q35']);
  t.deepEqual(values(args, '-accel'), ['tcg']);
  t.deepEqual(values(args, '-cpu'), [], 'TCG keeps QEMU default CPU model');
  t.deepEqual(values(args, '-m'), ['1024']);
  t.deepEqual(values(args, '-smp'), ['2']);
  t.deepEqual(values(args, '-drive'), [
    'if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd',
    'if=pflash,format=qcow2,unit=1,file=/run/r1/vars.qcow2',
    'file=/run/r1/overlay.qcow2,format=qcow2,if=none,id=disk0',
  ]);
  t.true(values(args, '-device').includes('virtio-blk-pci,drive=disk0,bootindex=0'));
  t.deepEqual(values(args, '-chardev'), ['pty,id=serial0,logfile=/run/r1/serial.log,logappend=on']);
  t.deepEqual(values(args, '-serial'), ['chardev:serial0']);
  t.deepEqual(values(args, '-qmp'), ['unix:/run/r1/qmp.sock,server=on,wait=off']);
  t.deepEqual(values(args, '-pidfile'), ['/run/r1/qemu.pid']);
  t.deepEqual(values(args, '-netdev'), ['user,id=net0,hostfwd=tcp:127.0.0.1:40022-:22222']);
  t.true(values(args, '-device').includes('virtio-net-pci,netdev=net0,romfile='));
  t.true(args.includes('-no-reboot'), 'a reset ends QEMU: the board starts a new one, cold');
  t.false(args.includes('-S'));
});

test('kvm uses the host CPU; an explicit cpu wins', (t) => {
  t.deepEqual(values(buildQemuArgs(input({}, { accel: 'kvm' })), '-cpu'), ['host']);
  t.deepEqual(values(buildQemuArgs(input({ cpu: 'max' })), '-cpu'), ['max']);
  t.deepEqual(values(buildQemuArgs(input({}, { accel: 'kvm' })), '-accel'), ['kvm']);
});

test('startPaused adds -S', (t) => {
  t.true(buildQemuArgs(input({}, { startPaused: true })).includes('-S'));
});

test('loadvm resumes from the named snapshot; without it nothing is loaded', (t) => {
  t.deepEqual(values(buildQemuArgs(input({}, { loadvm: 'golden' })), '-loadvm'), ['golden']);
  t.deepEqual(values(buildQemuArgs(input({})), '-loadvm'), []);
});

test('memory, cpus, machine come from the board', (t) => {
  const args = buildQemuArgs(input({ memory: 2048, cpus: 4, machine: 'pc' }));
  t.deepEqual(values(args, '-m'), ['2048']);
  t.deepEqual(values(args, '-smp'), ['4']);
  t.deepEqual(values(args, '-machine'), ['pc']);
});

test('bios firmware: no pflash drives', (t) => {
  const args = buildQemuArgs(input({ firmware: 'bios' }, { firmwareCode: undefined, firmwareVars: undefined }));
  t.false(values(args, '-drive').some((d) => d.includes('pflash')));
});

test('uefi without firmware paths is a programming error', (t) => {
  t.throws(() => buildQemuArgs(input({}, { firmwareVars: undefined })), { message: /firmwareCode and firmwareVars/ });
});

test('sata bus uses the AHCI ports in order', (t) => {
  const args = buildQemuArgs(
    input({ diskBus: 'sata' }, { extraDrives: [{ path: '/img/hostapp.tar', format: 'raw', bus: 'sata' }] }),
  );
  const devices = values(args, '-device');
  t.true(devices.includes('ide-hd,drive=disk0,bus=ide.0,bootindex=0'));
  t.true(devices.includes('ide-hd,drive=extra0,bus=ide.1'));
});

test('usb bus adds one xhci controller and usb-storage disks', (t) => {
  const args = buildQemuArgs(input({ diskBus: 'usb' }));
  const devices = values(args, '-device');
  t.is(devices.filter((d) => d.startsWith('qemu-xhci')).length, 1);
  t.true(devices.includes('usb-storage,bus=xhci.0,drive=disk0,bootindex=0'));
});

test('an installer stick: a writable usb drive, and with firmwareBootOrder no disk has a bootindex', (t) => {
  const stick = { path: '/dut/stick.qcow2', format: 'qcow2' as const, bus: 'usb' as const, readonly: false, bootindex: 1, serial: 'dutlab-installer' };
  const fixed = values(buildQemuArgs(input({}, { extraDrives: [stick] })), '-device');
  t.true(fixed.includes('virtio-blk-pci,drive=disk0,bootindex=0'));
  t.true(fixed.includes('usb-storage,bus=xhci.0,drive=extra0,bootindex=1,serial=dutlab-installer'));
  const args = buildQemuArgs(input({}, { extraDrives: [stick], firmwareBootOrder: true }));
  t.true(values(args, '-drive').includes('file=/dut/stick.qcow2,format=qcow2,if=none,id=extra0'));
  const devices = values(args, '-device');
  t.true(devices.includes('virtio-blk-pci,drive=disk0'));
  t.true(devices.includes('usb-storage,bus=xhci.0,drive=extra0,serial=dutlab-installer'));
  t.false(args.some((a) => a.includes('bootindex')));
});

test('extra drives are read-only, virtio by default, not boot devices unless given a bootindex', (t) => {
  const args = buildQemuArgs(
    input({}, { extraDrives: [{ path: '/img/hostapp.tar', format: 'raw' }, { path: '/img/data.qcow2', format: 'qcow2' }] }),
  );
  const drives = values(args, '-drive');
  t.true(drives.includes('file=/img/hostapp.tar,format=raw,if=none,id=extra0,readonly=on'));
  t.true(drives.includes('file=/img/data.qcow2,format=qcow2,if=none,id=extra1,readonly=on'));
  const devices = values(args, '-device');
  t.true(devices.includes('virtio-blk-pci,drive=extra0'));
  t.true(devices.includes('virtio-blk-pci,drive=extra1'));
});

test('no overlay: no boot disk at all', (t) => {
  const args = buildQemuArgs(input({}, { overlay: undefined }));
  t.false(values(args, '-drive').some((d) => d.includes('id=disk0')));
  t.false(values(args, '-device').some((d) => d.includes('drive=disk0')));
});

test('network none: no netdev, no port needed', (t) => {
  const args = buildQemuArgs(input({ network: 'none' }, { sshHostPort: undefined }));
  t.deepEqual(values(args, '-netdev'), []);
  t.false(values(args, '-device').some((d) => d.startsWith('virtio-net')));
});

test('user networking without a host port is a programming error', (t) => {
  t.throws(() => buildQemuArgs(input({}, { sshHostPort: undefined })), { message: /sshHostPort/ });
});

test('custom guest ssh port', (t) => {
  const args = buildQemuArgs(input({ sshGuestPort: 22 }, { sshHostPort: 5555 }));
  t.deepEqual(values(args, '-netdev'), ['user,id=net0,hostfwd=tcp:127.0.0.1:5555-:22']);
});

test('commas in paths are escaped for QEMU option parsing', (t) => {
  t.is(escapeOpt('/a,b/c,,d'), '/a,,b/c,,,,d');
  const args = buildQemuArgs(input({}, { overlay: '/runs/a,b/overlay.qcow2', serialLog: '/runs/a,b/serial.log' }));
  t.true(values(args, '-drive').includes('file=/runs/a,,b/overlay.qcow2,format=qcow2,if=none,id=disk0'));
  t.deepEqual(values(args, '-chardev'), ['pty,id=serial0,logfile=/runs/a,,b/serial.log,logappend=on']);
});

test('name and extra args', (t) => {
  const args = buildQemuArgs(input({}, { name: 'dutlab-x', extraArgs: ['-rtc', 'base=utc'] }));
  t.deepEqual(values(args, '-name'), ['dutlab-x']);
  t.deepEqual(args.slice(-2), ['-rtc', 'base=utc']);
});

test('an extra drive with a serial number carries it, so the guest finds it by id', (t) => {
  const args = buildQemuArgs(input({}, { extraDrives: [{ path: '/x/hostapp.tar', format: 'raw', serial: 'dutlab-next' }] })).join(' ');
  t.regex(args, /virtio-blk-pci,drive=extra0,serial=dutlab-next/);
});
