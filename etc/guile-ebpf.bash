# Bash completion for guile-ebpf.
_guile_ebpf ()
{
  local cur prev cmd
  cur=${COMP_WORDS[COMP_CWORD]}
  prev=${COMP_WORDS[COMP_CWORD-1]}
  cmd=${COMP_WORDS[1]}
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "-e run apply status remove features list c --help --version" -- "$cur"))
    return
  fi
  case "$prev" in
    -f|--format) COMPREPLY=($(compgen -W "json text" -- "$cur")); return ;;
    --duration|-d|--interval) return ;;
  esac
  case "$cmd" in
    run|apply|c)
      COMPREPLY=($(compgen -W "--duration --quiet --pin --dry-run --interval -f" -- "$cur"))
      [ "${cur#-}" = "$cur" ] && COMPREPLY=($(compgen -f -X '!*.scm' -- "$cur") $(compgen -d -- "$cur"))
      ;;
    status|remove)
      COMPREPLY=($(compgen -W "$(guile-ebpf status 2>/dev/null | awk '{print $1}')" -- "$cur")) ;;
    list)
      if [ "${cur#-}" != "$cur" ]; then
        COMPREPLY=($(compgen -W "-v -f" -- "$cur"))
      else
        COMPREPLY=($(compgen -W "tracepoint: rawtracepoint: fentry: lsm: uprobe: usdt:" -- "$cur"))
      fi ;;
    -e) COMPREPLY=($(compgen -W "--duration -f --quiet" -- "$cur")) ;;
  esac
}
complete -F _guile_ebpf guile-ebpf
