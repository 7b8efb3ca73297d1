#!/bin/sh
# RUSTC_WRAPPER of lambda_build (lambda-build.sh): the release artefacts built for the Lambda
# target are not position-independent (`-C relocation-model=static`), except a library that
# also builds itself as a shared library (crc-fast, under the S3 client's checksums: its
# `cdylib` cannot be linked from non-PIC code). Build scripts and proc macros, built for this
# machine without `--target`, keep rustc's defaults, as RUSTFLAGS would have left them.
rustc="$1"
shift
case " $* " in
  *" --target "*) ;;
  *) exec "$rustc" "$@" ;;
esac
case " $* " in
  *" --crate-type cdylib "* | *" --crate-type proc-macro "*) exec "$rustc" "$@" ;;
esac
exec "$rustc" "$@" -C relocation-model=static
