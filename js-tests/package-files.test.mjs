// suite: once (scripts/test.sh runs it once; the others run on each backend)
// What every published package carries besides its code: a README (what it is, install, usage,
// a link into the repository's documentation) and the license, as `npm pack` lists them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

const root = new URL("..", import.meta.url).pathname;
const PACKAGES = ["npm/core", "npm/core-linux-x64-gnu", "npm/plugin", "npm/tenant", "npm/audit", "npm/tenant-cli", "npm/audit-cli", "npm/webhooks", "npm/email", "npm/webhooks-cli", "npm/email-cli"];
const read = (path) => readFileSync(`${root}${path}`, "utf8");

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes. */
const anchor = (heading) => heading.toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, "").replace(/ /g, "-");
const rootAnchors = new Set(read("README.md").split("\n").filter((l) => /^#{1,6} /.test(l)).map((l) => anchor(l.replace(/^#+ /, ""))));

test("every published package packs a README and the repository's license", () => {
  const license = read("LICENSE");
  assert.match(license, /^MIT License\n/);
  assert.match(read("Cargo.toml"), /\[workspace\.package\][^[]*\nlicense = "MIT"\n/);
  assert.equal(JSON.parse(read("package.json")).license, "MIT");
  // --ignore-scripts: listing needs no release build of the addon.
  const out = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts", ...PACKAGES.map((p) => `./${p}`)], { cwd: root, encoding: "utf8" });
  const packs = JSON.parse(out);
  assert.equal(packs.length, PACKAGES.length);
  for (const [i, dir] of PACKAGES.entries()) {
    const { name, files } = packs[i];
    const manifest = JSON.parse(read(`${dir}/package.json`));
    assert.equal(name, manifest.name);
    const paths = files.map((f) => f.path);
    assert.ok(paths.includes("README.md") && paths.includes("LICENSE"), `${name} packs ${paths.join(", ")}`);
    assert.equal(manifest.license, "MIT", name);
    assert.equal(read(`${dir}/LICENSE`), license, `${name}: LICENSE is the repository's`);
    const readme = read(`${dir}/README.md`);
    assert.ok(readme.startsWith(`# ${name}\n\n`), `${name}: README starts with its name`);
    for (const section of ["## Install", "## Usage", "## Documentation", "## License"]) assert.ok(readme.includes(`\n${section}\n`), `${name}: ${section}`);
    assert.match(readme, /```sh\nnpm install /, `${name}: an install command`);
    const links = [...readme.matchAll(/\]\(\.\.\/\.\.\/README\.md#([^)]+)\)/g)].map((m) => m[1]);
    assert.ok(links.length > 0, `${name}: links to the repository's README`);
    for (const link of links) assert.ok(rootAnchors.has(link), `${name}: README.md#${link} is a heading of the root README`);
  }
});
