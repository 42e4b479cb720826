// What a command's handler gets from program.ts: the global options and where
// its output goes. Its own module, so that the lazily loaded commands (demo,
// watch) need nothing back from commands.ts.

export interface GlobalOptions {
  userdataDir: string;
  xenstore?: string;
  json?: boolean;
  quiet?: boolean;
  debug?: boolean;
  /** false with --no-hotplug-scripts. */
  hotplugScripts?: boolean;
}

export interface CommandContext {
  globals: GlobalOptions;
  options: Record<string, unknown>;
  /** Positional arguments in usage order (a variadic one is an array). */
  args: unknown[];
  /** Results, on stdout. */
  out(text: string): void;
  /** Progress and confirmations, on stderr unless --quiet. */
  info(text: string): void;
  /** Per-item failures, on stderr. */
  warn(text: string): void;
  stderr: NodeJS.WritableStream;
}
