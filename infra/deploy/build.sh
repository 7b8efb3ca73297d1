#!/usr/bin/env bash
# `make deploy-build`: the arm64 release build of every function in template.yaml, offline
# (cargo-lambda and zig from .venv; crates from the local cargo cache once fetched), laid out
# as `sam build` would: .aws-sam/build/<LogicalId>/bootstrap and .aws-sam/build/template.yaml,
# which `sam deploy` then packages and deploys.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
export PATH="$root/.venv/bin:$PATH"

# (logical id, binary) of every function, from the template.
mapfile -t functions < <(python3 - <<'PY'
import re
text = open("template.yaml").read()
for m in re.finditer(r"^  (\w+):\n    Type: AWS::Serverless::Function\n(?:(?!^  \w).*\n)*?        Binary: ([\w-]+)", text, re.M):
    print(m.group(1), m.group(2))
PY
)
[ "${#functions[@]}" -gt 0 ] || { echo "no functions found in template.yaml" >&2; exit 1; }
bins=()
for f in "${functions[@]}"; do bins+=(--bin "${f#* }"); done

# Lambda's arm64 target, added when missing (as the other set-up steps install what they need).
if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  echo "adding the Rust target aarch64-unknown-linux-gnu (rustup target add aarch64-unknown-linux-gnu)" >&2
  if ! rustup target add aarch64-unknown-linux-gnu; then
    echo "could not add the aarch64-unknown-linux-gnu target (rustup needs to reach static.rust-lang.org); add it by hand and run make deploy-build again" >&2
    exit 1
  fi
fi
offline=()
[ "${HERALD_ONLINE:-}" = 1 ] || offline=(--offline)
# shellcheck source=infra/deploy/lambda-build.sh
. infra/deploy/lambda-build.sh
lambda_build --arm64 "${offline[@]}" --lambda-dir target/lambda-arm64 "${bins[@]}"

out=.aws-sam/build
rm -rf "$out"
mkdir -p "$out"
for f in "${functions[@]}"; do
  logical="${f% *}" bin="${f#* }"
  mkdir -p "$out/$logical"
  cp "target/lambda-arm64/$bin/bootstrap" "$out/$logical/bootstrap"
  file_size="$(stat -c %s "$out/$logical/bootstrap")"
  printf '%-24s %-10s %6.2f MB\n' "$logical" "$bin" "$(python3 -c "print($file_size/1e6)")"
done
# The built template: each function's code is its directory, as sam build writes it.
python3 - "${functions[@]}" <<'PY'
import re, sys
text = open("template.yaml").read()
for pair in sys.argv[1:]:
    logical, binary = pair.split(" ")
    pattern = re.compile(r"(^  %s:\n(?:(?!^  \w).*\n)*?      CodeUri: )\.$" % re.escape(logical), re.M)
    text, n = pattern.subn(r"\g<1>%s" % logical, text)
    if n != 1:
        sys.exit("no CodeUri for %s" % logical)
    # Built already: no build method for sam to act on.
    metadata = "    Metadata:\n      BuildMethod: rust-cargolambda\n      BuildProperties:\n        Binary: %s\n" % binary
    if metadata not in text:
        sys.exit("no build metadata for %s" % logical)
    text = text.replace(metadata, "", 1)
open(".aws-sam/build/template.yaml", "w").write(text)
PY
AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}" cfn-lint "$out/template.yaml"
echo "arm64 artefacts in $out; deploy with: .venv/bin/sam deploy --guided" >&2
