/** A user mistake in the arguments (the command exits 2 and names it). */
export class UsageError extends Error {}
