import { boardsCommand } from './boards-command.ts';
import { bootCommand } from './boot-command.ts';
import { execCommand } from './exec-command.ts';
import { imageCommand } from './image-command.ts';
import { runCommand } from './run-command.ts';
import { handleSignals } from './signals.ts';

/**
 * dutlab's entry point: dispatches to one module per command. Exit codes:
 * 0 success, 1 test failures, 2 infrastructure errors or bad input.
 */
const commands: Record<string, (args: string[], shutdown: AbortSignal) => Promise<number>> = {
  image: imageCommand,
  boot: bootCommand,
  exec: execCommand,
  run: runCommand,
  boards: boardsCommand,
};

const usage = `usage: dutlab <command> [options]

commands:
  run [--board B] [--image IMG] [--suite os,hup|PATH] [--reports DIR] [--grep RE] [--bail] [--config run.yaml]
      [--next-hostapp TAR] [--current-hostapp TAR] [--boot-timeout S] [--accel auto|kvm|tcg] [--wait S]
      [--login auto|console|ssh]
                 boot the image, run the suites, write TAP (stdout), JUnit, summary.json and
                 the serial log under DIR/<run>/ (DIR/latest points at it); every input is
                 checked before any work; exit 0 pass, 1 failures, 2 errors or interrupted
  image build [--version V] [--next V2] [--out DIR] [--force] [--production] [--flasher] [--json]
                 build the reference OS image(s), hostapp(s) and the busybox container image;
                 --production also makes each version's production build (refos-V-prod.img)
                 --flasher also makes its flasher image (refos-V-flasher.img: an installer for the internal disk)
  boot [--board B] [--image IMG] [--console] [--json]
                 boot to a shell, print the timeline, keep the DUT until Ctrl-C
                 (--console attaches the terminal to the serial line; Ctrl-] detaches)
  exec [--board B] [--image IMG] [--transport auto|serial|ssh] [--json] -- CMD...
                 boot, run one command, exit with its exit code
  boards [--json] [--dir BOARDS_DIR]
                 list the board files: kind, device type, and free / leased (by whom) / broken (why)

  --board takes a name from boards/ or a path (default qemu-x86_64); --accel overrides its
  qemu.accel (auto probes KVM once per host and falls back to TCG; kvm fails if KVM does not work);
  without --image the reference image is built (cached) and used. --login (run, boot, exec):
  how the boot is detected and the DUT logged in to: a shell on the serial console, or SSH
  alone (a new boot id answering); auto takes SSH for an image whose config.json has
  developmentMode false (production: no console shell). Farm and virtual boards
  (e.g. boards/virtual-x86_64.yaml) are leased by run, boot and exec: a board another run holds
  is refused naming the holder, or waited for up to --wait seconds.
`;

async function main(argv: string[], shutdown: AbortSignal): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    process.stdout.write(usage);
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`dutlab: unknown command "${name}"\n\n${usage}`);
    return 2;
  }
  return command(rest, shutdown);
}

const shutdown = handleSignals();
try {
  process.exitCode = await main(process.argv.slice(2), shutdown.signal);
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`dutlab: ${message}\n`);
  // Anything that escapes a command is infrastructure, bad input or an interruption, never a test failure.
  process.exitCode = 2;
}
// Interrupted: what the command left running (a build tool, a helper) ends with the process, now.
if (shutdown.signal.aborted) process.exit();
