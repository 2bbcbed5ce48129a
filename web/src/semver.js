// semver.js - semantic-version precedence (semver.org, section 11), enough
// for OpenShift release versions such as 4.16.3, 4.16.0-rc.2 and 4.10.0-fc.0.

// Splits "4.16.0-rc.2+build" into numbers and pre-release identifiers;
// a string that is not a version sorts after every version, by its text.
export function parseVersion(text) {
  const m = /^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/.exec(text);
  if (!m) return { text, valid: false };
  return {
    text,
    valid: true,
    major: Number(m[1]),
    minor: Number(m[2]),
    patch: Number(m[3]),
    pre: m[4] ? m[4].split('.') : [],
  };
}

function compareIdentifiers(a, b) {
  const an = /^\d+$/.test(a);
  const bn = /^\d+$/.test(b);
  if (an && bn) return Number(a) - Number(b);
  if (an !== bn) return an ? -1 : 1; // numeric identifiers rank below alphanumeric ones
  return a < b ? -1 : a > b ? 1 : 0;
}

function comparePre(a, b) {
  if (!a.length || !b.length) return b.length - a.length; // a release outranks its pre-releases
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = compareIdentifiers(a[i], b[i]);
    if (c) return c;
  }
  return a.length - b.length;
}

// Negative, zero or positive as version a sorts before, with or after b.
export function compareParsed(a, b) {
  if (!a.valid || !b.valid) {
    if (a.valid !== b.valid) return a.valid ? -1 : 1;
    return a.text < b.text ? -1 : a.text > b.text ? 1 : 0;
  }
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch || comparePre(a.pre, b.pre);
}

export function compareVersions(a, b) {
  return compareParsed(parseVersion(a), parseVersion(b));
}

// "4.16" for 4.16.3; the text itself for something that is not a version.
export function minorOf(parsed) {
  return parsed.valid ? `${parsed.major}.${parsed.minor}` : parsed.text;
}
