#!/usr/bin/env bash
# Installs the notebook toolchain (idempotently) and executes every notebook headless.
#
#   notebooks/run.sh            execute every notebook into a temp dir; fail if a cell fails or
#                               if the text outputs differ from the committed ones
#   notebooks/run.sh --update   execute and write the outputs back into notebooks/
#   notebooks/run.sh --install  only install the toolchain
#
# Toolchain: Debian's jupyter-nbconvert, jupyter-client and python3-ipykernel (apt-get, if
# missing), GoNB and goimports at pinned versions built from a scratch module into
# $NOTEBOOKS_HOME/bin (default ~/.cache/dispatchlab-notebooks/bin), and the GoNB kernel spec.
set -euo pipefail

GONB_VERSION=v0.11.1      # the Go module proxy refuses gonb's version list: pin it
GOIMPORTS_VERSION=v0.52.0 # golang.org/x/tools; GoNB needs goimports on PATH
NOTEBOOKS_HOME=${NOTEBOOKS_HOME:-$HOME/.cache/dispatchlab-notebooks}
BIN=$NOTEBOOKS_HOME/bin

here=$(cd "$(dirname "$0")" && pwd)
mode=check
case "${1:-}" in
  "") ;;
  --update) mode=update ;;
  --install) mode=install ;;
  -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
  *) echo "run.sh: unknown argument $1 (want --update, --install or nothing)" >&2; exit 2 ;;
esac

# A CI that sets GOFLAGS=-mod=readonly for the repository would stop GoNB's go get in its
# temporary cell modules; the notebooks' own go.mod is built from scratch each time.
GOFLAGS=$(printf '%s\n' ${GOFLAGS:-} | grep -v '^-mod=' | tr '\n' ' ' || true)
export GOFLAGS
export PATH=$BIN:$PATH

install_apt() {
  if command -v jupyter-nbconvert >/dev/null 2>&1 && /usr/bin/python3 -c 'import ipykernel, jupyter_client, nbclient' 2>/dev/null; then
    return
  fi
  echo "== installing Debian's Jupyter packages"
  local sudo=
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "run.sh: need root or sudo to apt-get install jupyter-nbconvert jupyter-client python3-ipykernel" >&2; exit 1; }
    sudo=sudo
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    jupyter-nbconvert jupyter-client python3-ipykernel >/dev/null
}

install_go_tools() {
  local stamp="gonb $GONB_VERSION goimports $GOIMPORTS_VERSION $(go env GOVERSION)"
  if [ -x "$BIN/gonb" ] && [ -x "$BIN/goimports" ] && [ "$(cat "$BIN/.versions" 2>/dev/null)" = "$stamp" ]; then
    return
  fi
  echo "== building GoNB $GONB_VERSION and goimports $GOIMPORTS_VERSION into $BIN"
  local mod=$NOTEBOOKS_HOME/tools
  rm -rf "$mod"
  mkdir -p "$mod" "$BIN"
  (
    cd "$mod"
    go mod init dispatchlab-notebook-tools >/dev/null 2>&1
    # go get -tool in a scratch module: "go install module@version" asks the proxy for the
    # version list (deprecation check), which it refuses for gonb.
    go get -tool "github.com/janpfeifer/gonb@$GONB_VERSION" "golang.org/x/tools/cmd/goimports@$GOIMPORTS_VERSION" >/dev/null 2>&1 ||
      go get -tool "github.com/janpfeifer/gonb@$GONB_VERSION" "golang.org/x/tools/cmd/goimports@$GOIMPORTS_VERSION"
    GOBIN=$BIN go install tool
  )
  echo "$stamp" >"$BIN/.versions"
}

install_kernel() {
  if [ ! -f "$HOME/.local/share/jupyter/kernels/gonb/kernel.json" ] || ! grep -q "\"$BIN/gonb\"" "$HOME/.local/share/jupyter/kernels/gonb/kernel.json"; then
    echo "== installing the GoNB kernel spec"
    gonb --install --force_deps >/dev/null 2>&1
  fi
}

install_apt
install_go_tools
install_kernel
if [ "$mode" = install ]; then exit 0; fi

# Execute every notebook headless into a temporary directory.
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# GoNB takes the kernel's working directory as GONB_JUPYTER_ROOT, which the notebooks use to
# find the module (${GONB_JUPYTER_ROOT}/..): run from notebooks/, as Jupyter does.
cd "$here"
notebooks=([0-9]*.ipynb)
for nb in "${notebooks[@]}"; do
  name=$nb
  start=$SECONDS
  if ! jupyter nbconvert --to notebook --execute \
      --ExecutePreprocessor.kernel_name=gonb \
      --ExecutePreprocessor.timeout=600 \
      --ExecutePreprocessor.record_timing=False \
      --output-dir "$out" "$nb" >"$out/$name.log" 2>&1; then
    echo "== $name: execution failed"
    grep -v '^[IW][0-9]\{4\} ' "$out/$name.log" | tail -n 60
    exit 1
  fi
  echo "== $name executed in $((SECONDS - start))s"
done

# A cell that failed at run time (GoNB reports those as stderr output), or outputs that
# differ from the committed ones, fail the run; --update writes the outputs back instead.
action=check
[ "$mode" = update ] && action=update
/usr/bin/python3 "$here/nbcheck.py" "$action" "$out" "${notebooks[@]}"
