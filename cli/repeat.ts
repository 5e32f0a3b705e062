/**
 * An option given once per value (`--path a --path b`). Commander's variadic `<glob...>` takes every argument
 * after it, so `restore --source config latest` swallowed the snapshot id; one value per flag never does.
 */
export function repeatable(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
