# Sourced by infra/deploy/build.sh (`make deploy-build`) and infra/bench/run.sh (`make bench`):
# `lambda_build ARGS...` is how every Lambda binary is built, so the bench measures what deploys.
#
# Release profile (Cargo.toml: LTO, one codegen unit, opt-level "s", stripped), cargo-lambda and
# zig from .venv, and non-position-independent executables (`-C relocation-model=static`): a
# PIE binary of the api carries about 65,000 relative relocations that the dynamic loader
# applies, page by page, before main runs; without them the api's cold start is about 2 ms
# shorter (BENCHMARKS.md). The executable then loads at a fixed address (no ASLR for its own
# code, as for Go's Lambda binaries, which are not PIE by default either); shared libraries,
# stack and heap stay randomised. The flag is given by a rustc wrapper (rustc-static.sh) to the
# --target artefacts that cargo-lambda builds, not to build scripts or proc macros, and not to
# a dependency's shared-library output (crc-fast's cdylib, which cannot be linked without PIC).
lambda_build() {
  RUSTC_WRAPPER="$root/infra/deploy/rustc-static.sh" PATH="$root/.venv/bin:$PATH" cargo lambda build --release "$@"
}
