#!/usr/bin/env bash
# Rebuild the results page's vendored viewer (src/hypershape/page_assets/three-viewer.min.js): three.js and
# its OrbitControls from the npm registry, bundled by esbuild into one minified IIFE that defines the global
# THREE, since pages opened from file:// cannot import ES modules. Needs node and npm; a development step
# only (the bundle is committed). THREE_VERSION picks the three.js release.
set -euo pipefail
cd "$(dirname "$0")/.."
assets=$(pwd -P)/src/hypershape/page_assets
version=${THREE_VERSION:-0.187.0}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm init -y >/dev/null
npm install --no-audit --no-fund --silent "three@$version" esbuild@0.28.2
cp "$assets/three-viewer-entry.js" entry.js  # resolved against this folder's node_modules
npx esbuild entry.js --bundle --minify --format=iife --global-name=THREE \
  --legal-comments=none --target=es2020 \
  --banner:js="/*! three.js $version with OrbitControls (MIT, see THREE-LICENSE); built by scripts/build_viewer.sh */" --outfile="$assets/three-viewer.min.js"
cp node_modules/three/LICENSE "$assets/THREE-LICENSE"
echo "build_viewer: three $version -> $assets/three-viewer.min.js"
