// The OHIF Viewer the archive serves: the prebuilt @ohif/app distribution from the npm registry, at a
// pinned version, unpacked by the install step (install-ohif.ts) under node_modules — an install product
// like the dependencies, never in git.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const OHIF_VERSION = '3.13.2';

/** The folder that holds the viewer's dist/ once installed. */
export const OHIF_HOME = fileURLToPath(new URL(`../../node_modules/.cache/ohif-app-${OHIF_VERSION}/`, import.meta.url));

/** The viewer's files (index.html, bundles, and .br/.gz beside them), or undefined when not installed. */
export function installedOhif(): string | undefined {
  const dist = `${OHIF_HOME}dist`;
  return existsSync(`${dist}/index.html`) ? dist : undefined;
}
