#!/usr/bin/env bash
# Stages .gpu-carry/, what bench/gpu/run.sh needs on a GPU machine that has
# PyTorch with CUDA, nvcc, CMake and Ninja but none of Debian's -dev
# packages: Abseil's Debian source (built there with PyTorch's C++ ABI),
# nlohmann_json's headers, Gloo's headers (c10d's API includes them; the
# wheels lack them), and the headers and shared libraries of the C libraries
# the torch-only build links (OpenSSL's libcrypto, libpng, zlib,
# libturbojpeg). Run it here (Debian bookworm, the project's packages
# installed), then hand .gpu-carry to the device tool's `carry`.
#
# Usage: bench/gpu/carry.sh   (writes ROOT/.gpu-carry, about 12 MB)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
carry=$root/.gpu-carry
arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
rm -rf "$carry"
mkdir -p "$carry/src" "$carry/usr/include" "$carry/usr/lib" "$carry/usr/share/cmake"

# Abseil's source as Debian builds it (20220623 and its patches, which keep
# absl::string_view and friends as absl types, as the headers here have them).
# deb-src is not configured on these machines: add it for this one download.
src_list=/etc/apt/sources.list.d/sslab-gpu-carry-src.sources
if ! ls "$root"/.gpu-carry-cache/abseil_*.orig.tar.* >/dev/null 2>&1; then
  mkdir -p "$root/.gpu-carry-cache"
  printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' >"$src_list"
  trap 'rm -f "$src_list"; apt-get update -qq >/dev/null 2>&1 || true' EXIT
  apt-get update -qq
  (cd "$root/.gpu-carry-cache" && apt-get source --download-only -qq \
    "abseil=$(dpkg-query -W -f='${source:Version}' libabsl-dev)")
fi
cp "$root"/.gpu-carry-cache/abseil_*.orig.tar.* "$root"/.gpu-carry-cache/abseil_*.debian.tar.* "$carry/src/"

# nlohmann_json: header-only, with its CMake package (found relative to it).
cp -r /usr/include/nlohmann "$carry/usr/include/"
cp -r /usr/share/cmake/nlohmann_json "$carry/usr/share/cmake/"

# C libraries: headers and the shared objects (with their SONAME links).
# They need glibc >= 2.34 (libcrypto); nothing of libstdc++.
headers=(/usr/include/openssl /usr/include/"$arch"/openssl /usr/include/png.h
  /usr/include/pngconf.h /usr/include/pnglibconf.h /usr/include/libpng16
  /usr/include/zlib.h /usr/include/zconf.h /usr/include/turbojpeg.h
  /usr/include/gloo)
for h in "${headers[@]}"; do
  if [[ $h == /usr/include/$arch/openssl ]]; then
    cp -rL "$h"/. "$carry/usr/include/openssl/"  # configuration.h, opensslconf.h
  else
    cp -rL "$h" "$carry/usr/include/"
  fi
done
for lib in libcrypto libssl libpng16 libz libturbojpeg; do
  cp -a /usr/lib/"$arch"/"$lib".so* "$carry/usr/lib/"
done
du -sh "$carry"
