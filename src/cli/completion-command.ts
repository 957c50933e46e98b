/** `tvisor completion bash|zsh`: shell completion scripts for the verbs, their flags and VM names. */
import type { Command } from "commander";
import { UserError } from "../base/errors.js";

/** Verbs whose first argument is a VM name (completed from `tvisor list --json`). */
const VM_VERBS = [
  "start",
  "stop",
  "kill",
  "pause",
  "resume",
  "rm",
  "inspect",
  "console",
  "stats",
  "save",
  "migrate",
];

function verbsAndFlags(program: Command): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const c of program.commands)
    m.set(c.name(), c.options.map((o) => o.long ?? o.short ?? "").filter(Boolean));
  return m;
}

function bashScript(program: Command): string {
  const verbs = verbsAndFlags(program);
  const cases = [...verbs].map(([v, flags]) => `    ${v}) flags="${flags.join(" ")}" ;;`).join("\n");
  return `# tvisor bash completion: eval "$(tvisor completion bash)"
_tvisor_vms() {
  tvisor list --json "$@" 2>/dev/null | sed -n 's/^    "name": "\\(.*\\)",$/\\1/p'
}
_tvisor() {
  local cur verb flags
  cur="\${COMP_WORDS[COMP_CWORD]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${[...verbs.keys()].join(" ")}" -- "$cur") )
    return
  fi
  verb="\${COMP_WORDS[1]}"
  case "$verb" in
${cases}
    *) flags="" ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "$flags" -- "$cur") )
  elif [ "$COMP_CWORD" -eq 2 ] && [[ " ${VM_VERBS.join(" ")} " == *" $verb "* ]]; then
    COMPREPLY=( $(compgen -W "$(_tvisor_vms)" -- "$cur") )
  else
    COMPREPLY=( $(compgen -f -- "$cur") )
  fi
}
complete -F _tvisor tvisor
`;
}

function zshScript(program: Command): string {
  const verbs = verbsAndFlags(program);
  const verbList = [...program.commands]
    .map((c) => `'${c.name()}:${c.description().replace(/'/g, "").slice(0, 60)}'`)
    .join(" ");
  const cases = [...verbs].map(([v, flags]) => `    ${v}) flags=(${flags.join(" ")}) ;;`).join("\n");
  return `#compdef tvisor
# tvisor zsh completion: eval "$(tvisor completion zsh)" (or save as _tvisor in $fpath)
_tvisor() {
  local -a verbs flags vms
  verbs=(${verbList})
  if (( CURRENT == 2 )); then
    _describe 'verb' verbs
    return
  fi
  case "$words[2]" in
${cases}
    *) flags=() ;;
  esac
  if [[ "$words[CURRENT]" == -* ]]; then
    compadd -- $flags
  elif (( CURRENT == 3 )) && [[ " ${VM_VERBS.join(" ")} " == *" $words[2] "* ]]; then
    vms=(\${(f)"$(tvisor list --json 2>/dev/null | sed -n 's/^    "name": "\\(.*\\)",$/\\1/p')"})
    compadd -- $vms
  else
    _files
  fi
}
compdef _tvisor tvisor
`;
}

export function registerCompletionCommand(program: Command): void {
  program
    .command("completion")
    .description('print a shell completion script: eval "$(tvisor completion bash)"')
    .argument("<shell>", "bash or zsh")
    .action((shell: string) => {
      if (shell === "bash") process.stdout.write(bashScript(program));
      else if (shell === "zsh") process.stdout.write(zshScript(program));
      else throw new UserError(`completion: expected bash or zsh, got "${shell}"`);
    });
}
