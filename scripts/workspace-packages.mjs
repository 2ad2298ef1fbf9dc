// The publishable packages of the workspace: every member of the root package.json's `workspaces`
// that is not `private`. Used by the pack check and by `npm run version-packages`, so a package
// added under packages/ is packed, linted, installed and versioned without touching either.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * @param {string} root the repository root
 * @param {{ includePrivate?: boolean }} [options]
 * @returns {{ name: string, dir: string, json: Record<string, any> }[]} sorted by name
 */
export function workspacePackages(root, { includePrivate = false } = {}) {
  const { workspaces = [] } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const dirs = [];
  for (const pattern of workspaces) {
    if (pattern.endsWith('/*') && !pattern.slice(0, -2).includes('*')) {
      const parent = join(root, pattern.slice(0, -2));
      for (const entry of readdirSync(parent, { withFileTypes: true })) {
        if (entry.isDirectory()) dirs.push(join(parent, entry.name));
      }
    } else if (!pattern.includes('*')) {
      dirs.push(join(root, pattern));
    } else {
      // Refuse rather than silently skip the packages a pattern we cannot read would have named.
      throw new Error(`workspace pattern '${pattern}' is not supported (use 'dir/*' or a directory)`);
    }
  }
  const packages = [];
  for (const dir of dirs) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const json = JSON.parse(readFileSync(file, 'utf8'));
    if (json.private === true && !includePrivate) continue;
    packages.push({ name: json.name, dir, json });
  }
  return packages.sort((a, b) => a.name.localeCompare(b.name));
}
