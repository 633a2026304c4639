# The image Cross.toml gives cross (cross-rs) for every target: Debian 12
# with exactly the apt packages ci/setup.sh installs on a CI machine (the
# cross gcc and binutils of all five arches, clang 19, qemu-user-static from
# bookworm-backports, ...), so the tests find the tools they find on CI and
# .cargo/config.toml's linkers and qemu-user runners work as written.  Rust
# is not installed here: cross mounts the host's toolchain (1.96.0, from
# rust-toolchain.toml).
FROM debian:bookworm
COPY ci/setup.sh /usr/local/bin/graft-setup
RUN graft-setup --apt-only && rm -rf /var/lib/apt/lists/*
