/** config.json on the boot partition, changed at run time as a user or the supervisor changes it. */
import type { TestContext } from 'dutlab';

export const CONFIG_JSON = '/mnt/boot/config.json';

/** The tests whose config.json is already due to be put back. */
const restoring = new WeakSet<TestContext>();

/**
 * Applies a jq filter to config.json: written beside it and renamed over it
 * (a reader never sees half a file), then synced. balenaOS watches the file,
 * so no reboot follows; the test waits for the effect it expects. The file
 * as it was before the test's first edit is put back after the test, once.
 */
export async function editConfigJson(t: TestContext, filter: string): Promise<void> {
  if (!restoring.has(t)) {
    const before = await t.sh(`cat ${CONFIG_JSON}`);
    restoring.add(t);
    t.teardown(() => writeConfigJson(t, before));
  }
  const quoted = filter.replace(/'/g, `'\\''`);
  await t.sh(`jq '${quoted}' ${CONFIG_JSON} > ${CONFIG_JSON}.dutlab && mv ${CONFIG_JSON}.dutlab ${CONFIG_JSON} && sync`);
}

async function writeConfigJson(t: TestContext, text: string): Promise<void> {
  const encoded = Buffer.from(text).toString('base64');
  await t.sh(`echo ${encoded} | base64 -d > ${CONFIG_JSON}.dutlab && mv ${CONFIG_JSON}.dutlab ${CONFIG_JSON} && sync`);
}
