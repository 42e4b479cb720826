# zsh -f zsh-completions.zsh SETUP LINE...: for each LINE in turn, prints the
# matches zsh's completion system offers for its last word, one a line, then
# an empty line. One interactive zsh that ran SETUP (which loads compinit and
# the completion under test) completes them all, on a pseudo-terminal (zpty),
# on a typed tab; a compadd wrapper prints the matches instead of listing
# them. Matches are marked by a leading \x1f and each completion's end by a
# lone \x1e: bytes the terminal's echo of the typed text never shows.
zmodload zsh/zpty || exit 2
setup=$1
shift
zpty completer zsh -f -i
zpty -w completer 'PROMPT= RPROMPT=; unsetopt zle_bracketed_paste'
zpty -w completer "$setup"
zpty -w completer 'compadd() {
  if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return; fi
  local -a hits; builtin compadd -A hits "$@"; (( $#hits )) && print -rl -- $'\''\x1f'\''${^hits}
}'
zpty -w completer 'complete-and-mark() { zle complete-word; print -r -- $'\''\x1e'\''; zle kill-whole-line }'
zpty -w completer 'zle -N complete-and-mark; bindkey "^I" complete-and-mark'
for line in "$@"; do
  zpty -w -n completer "$line"$'\t'
  while zpty -r completer output; do
    output=${output%$'\n'}
    output=${output%$'\r'}
    [[ $output == *$'\x1e'* ]] && break
    [[ $output == *$'\x1f'* ]] && print -r -- ${output##*$'\x1f'}
  done
  print
done
zpty -d completer
