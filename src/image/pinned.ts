// `pinned-images` as CRI-O has them: kubelet never garbage-collects an image ImageStatus reports
// pinned. A pattern is an exact name ("registry.k8s.io/pause:3.9"), a prefix glob ending in
// "*" ("registry.k8s.io/*"), or a keyword between two "*" ("*pause*"); it is matched against
// the image's tags, digest names and id.

export type PinnedMatcher = (names: readonly string[]) => boolean;

export function pinnedMatcher(patterns: readonly string[]): PinnedMatcher {
  const tests = patterns
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .map((p): ((n: string) => boolean) => {
      if (p.length > 1 && p.startsWith('*') && p.endsWith('*')) {
        const word = p.slice(1, -1);
        return (n) => n.includes(word);
      }
      if (p.endsWith('*')) {
        const prefix = p.slice(0, -1);
        return (n) => n.startsWith(prefix);
      }
      return (n) => n === p;
    });
  if (!tests.length) return () => false;
  return (names) => names.some((n) => tests.some((t) => t(n)));
}
