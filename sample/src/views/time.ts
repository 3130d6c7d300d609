/** Times as the pages show them: relative when recent, so a page reads the same from run to run. */

/** "3 Dec 2026, 14:05" (the server's time zone). */
export function time(at: string | number): string {
  return new Date(at).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' });
}

/** "just now", "5 minutes ago", "2 hours ago", or "on" the date. */
export function since(at: string | number): string {
  const then = typeof at === 'number' ? at : Date.parse(at);
  const minutes = Math.floor((Date.now() - then) / 60_000);
  if (minutes < 1) return 'just now';
  if (minutes < 60) return `${minutes} minute${minutes === 1 ? '' : 's'} ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} hour${hours === 1 ? '' : 's'} ago`;
  return `on ${time(then)}`;
}
