#!/bin/sh
# Runs from the lifecycle config after the asset was copied to $ASSETS_DIR/testing/.
set -eu
echo "asset 'testing' available at $ASSETS_DIR/testing"
pip install --quiet -r "$ASSETS_DIR/testing/requirements.txt"
