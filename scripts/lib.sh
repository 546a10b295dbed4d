# Shared by scripts/start, scripts/test and scripts/bootstrap: tool installs
# and a private PostgreSQL cluster. Source it; it changes nothing by itself.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_DIR="$ROOT/.tessera"
export PATH="$ROOT/node_modules/.bin:$HOME/.cargo/bin:$PATH"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

say() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "needs root: $*"; fi; }

apt_install() {
  if [ ! -f "$STATE_DIR/apt-updated" ]; then
    as_root apt-get update -qq && mkdir -p "$STATE_DIR" && touch "$STATE_DIR/apt-updated"
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# The wasm-bindgen version Cargo.lock resolved (the CLI must equal it).
locked_wasm_bindgen() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock"
}

ensure_rust_tools() {
  command -v cargo >/dev/null || die "cargo is missing: install Rust with rustup first"
  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    say "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  if [ "$(cargo leptos --version 2>/dev/null | awk '{print $2}')" != "0.3.10" ]; then
    say "installing cargo-leptos 0.3.10 (about 15 minutes, once per machine)"
    cargo install cargo-leptos --version 0.3.10 --locked --features no_downloads
  fi
  local want; want="$(locked_wasm_bindgen)"
  if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$want" ]; then
    say "installing wasm-bindgen-cli $want (matching Cargo.lock)"
    cargo install wasm-bindgen-cli --version "$want"
  fi
}

# The fuzz target (cargo-fuzz needs a nightly compiler), the SMTP server
# the notification tests mail to (Python's aiosmtpd) and the second relying
# party of the OpenID Connect tests (Python's Authlib).
ensure_test_tools() {
  if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    say "installing the nightly toolchain (for cargo-fuzz)"
    rustup toolchain install nightly --profile minimal
  fi
  if [ "$(cargo fuzz --version 2>/dev/null | awk '{print $2}')" != "0.13.2" ]; then
    say "installing cargo-fuzz 0.13.2"
    cargo install cargo-fuzz --version 0.13.2 --locked
  fi
  if ! python3 -c 'import aiosmtpd' 2>/dev/null; then
    say "installing aiosmtpd (the notification tests' SMTP server)"
    python3 -m pip install --quiet aiosmtpd==1.4.6 2>/dev/null \
      || python3 -m pip install --quiet --break-system-packages aiosmtpd==1.4.6
  fi
  if ! python3 -c 'import authlib, requests' 2>/dev/null; then
    say "installing Authlib (the second relying party of the OpenID Connect tests)"
    python3 -m pip install --quiet authlib==1.3.2 requests 2>/dev/null \
      || python3 -m pip install --quiet --break-system-packages authlib==1.3.2 requests
  fi
}

ensure_npm_tools() {
  command -v npm >/dev/null || apt_install nodejs npm
  if [ ! -f "$ROOT/node_modules/.package-lock.json" ] || [ "$ROOT/package-lock.json" -nt "$ROOT/node_modules/.package-lock.json" ]; then
    say "installing npm packages from package-lock.json"
    # `npm install --no-save` installs the locked versions. (`npm ci` is not
    # used: npm 11 writes lock files without other platforms' optional
    # Tailwind binaries, and then refuses them in `npm ci`.)
    (cd "$ROOT" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-save --no-audit --no-fund --loglevel=error)
  fi
}

ensure_chromium() {
  if [ ! -x /usr/bin/chromium ]; then
    say "installing Debian's Chromium for the browser tests"
    apt_install chromium chromium-driver
  fi
}

pg_bin() {
  local d
  if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
    dirname "$(command -v pg_ctl)"; return
  fi
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  if [ -z "$d" ]; then
    say "installing PostgreSQL"
    apt_install postgresql
    d="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  fi
  echo "$d"
}

# Runs a PostgreSQL tool as the cluster's owner: the server refuses root.
pg_as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Where clusters live: .tessera/, unless the postgres user cannot reach it
# (a clone under a private home folder), then a folder of its own in /var/tmp.
pg_home() {
  mkdir -p "$STATE_DIR"
  if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$STATE_DIR" 2>/dev/null; then
    local alt; alt="/var/tmp/tessera-pg-$(printf '%s' "$ROOT" | md5sum | cut -c1-12)"
    mkdir -p "$alt"; chmod 755 "$alt"; echo "$alt"
  else
    echo "$STATE_DIR"
  fi
}

# pg_up NAME PORT: initialises (once) and starts a private cluster in
# .tessera/NAME, and prints its superuser URL (database "postgres").
pg_up() {
  local name="$1" port="$2" bin dir pwfile pw
  bin="$(pg_bin)"
  dir="$(pg_home)/$name"
  pwfile="$STATE_DIR/$name.password"
  if [ ! -f "$dir/PG_VERSION" ]; then
    say "initialising a private PostgreSQL cluster in .tessera/$name"
    rm -rf "$dir"; mkdir -p "$dir"
    ( umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$pwfile" )
    local tmp; tmp="$(mktemp)"; cp "$pwfile" "$tmp"
    if [ "$(id -u)" = 0 ]; then chown postgres "$dir" "$tmp"; chmod 700 "$dir"; fi
    pg_as_owner "$bin/initdb" -D "$dir" -U tessera --auth=scram-sha-256 --pwfile="$tmp" -E UTF8 --no-locale >/dev/null
    rm -f "$tmp"
  fi
  pw="$(cat "$pwfile")"
  if ! pg_as_owner "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    pg_as_owner "$bin/pg_ctl" -D "$dir" -w -t 60 -l "$dir/server.log" \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null \
      || { tail -n 20 "$dir/server.log" >&2; die "PostgreSQL did not start (port $port busy?)"; }
  fi
  echo "postgres://tessera:$pw@127.0.0.1:$port/postgres"
}

pg_down() {
  local dir; dir="$(pg_home)/$1"
  [ -f "$dir/PG_VERSION" ] || return 0
  pg_as_owner "$(pg_bin)/pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true
}

# db_url BASE_URL NAME: the same server, another database.
db_url() { echo "${1%/*}/$2"; }

# create_db SUPERUSER_URL NAME [fresh]: creates the database (dropping it first when fresh).
create_db() {
  local url="$1" name="$2"
  if [ "${3:-}" = fresh ]; then psql -q "$url" -c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >/dev/null; fi
  if [ -z "$(psql -tAq "$url" -c "SELECT 1 FROM pg_database WHERE datname = '$name'")" ]; then
    psql -q "$url" -c "CREATE DATABASE \"$name\"" >/dev/null
  fi
}

# drop_dbs SUPERUSER_URL PREFIX: drops the databases whose names start with PREFIX.
drop_dbs() {
  local url="$1" name
  for name in $(psql -tAq "$url" -c "SELECT datname FROM pg_database WHERE starts_with(datname, '${2}') AND NOT datistemplate"); do
    psql -q "$url" -c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >/dev/null
  done
}

# Builds the release server and the hydrate bundle, CSS and assets.
build_release() {
  say "building Tessera (release)"
  # --split: a chunk per page (app/src/lib.rs, lazy_pages!); --precompress:
  # .br and .gz beside each file, which the server sends to browsers that take them.
  (cd "$ROOT" && cargo leptos build --release --split --precompress)
}

# The server as the release build makes it (`bin-profile-release` in Cargo.toml).
server_bin() { echo "$TARGET_DIR/server-release/tessera-server"; }
