# The flake's checks (nix flake check). The NixOS VM test is added by
# flake.nix on Linux only.
{
  pkgs,
  self,
  bakc,
}:

let
  # nix-instantiate inside the build sandbox, with a store of its own
  # (the way nixpkgs' lib/tests run it).
  nixSandboxSetup = ''
    export TEST_ROOT=$(pwd)/test-tmp
    export HOME=$TEST_ROOT
    export NIX_BUILD_HOOK=
    export NIX_CONF_DIR=$TEST_ROOT/etc
    export NIX_LOCALSTATE_DIR=$TEST_ROOT/var
    export NIX_LOG_DIR=$TEST_ROOT/var/log/nix
    export NIX_STATE_DIR=$TEST_ROOT/var/nix
    export NIX_STORE_DIR=$TEST_ROOT/store
    export PAGER=cat
    mkdir -p $TEST_ROOT
    nix-store --init
  '';
in
{
  # go test ./... with the components that run in the sandbox (restic,
  # nix-instantiate, systemd-analyze); those that cannot (zfs-fuse, root)
  # skip, as they do outside CI.
  go-tests = bakc.overrideAttrs (old: {
    pname = "bakc-go-tests";
    subPackages = [ ];
    doCheck = true;
    nativeCheckInputs = [
      pkgs.restic
      pkgs.nix
      pkgs.util-linux
    ] ++ pkgs.lib.optionals pkgs.stdenv.isLinux [ pkgs.systemd ];
    preCheck = nixSandboxSetup;
    postInstall = "";
  });

  # Every example node compiles to its committed backup.nix and units, and
  # every backup.nix parses, is formatted as nixfmt formats it, and
  # evaluates against stand-in arguments.
  examples =
    pkgs.runCommand "bakc-examples"
      {
        nativeBuildInputs = [
          bakc
          pkgs.nix
          pkgs.diffutils
          pkgs.nixfmt-rfc-style
        ];
      }
      ''
        ${nixSandboxSetup}
        cd ${self}/examples/homelab
        for host in hosts/*.hcl; do
          node=$(basename "$host" .hcl)
          bakc compile "$host" > $TEST_ROOT/backup.nix
          diff -u "out/$node/backup.nix" $TEST_ROOT/backup.nix
          nix-instantiate --parse $TEST_ROOT/backup.nix > /dev/null
          # backup.nix is printed the way nixfmt prints Nix.
          nixfmt --check $TEST_ROOT/backup.nix
          nix-instantiate --eval --strict --json --expr "import $TEST_ROOT/backup.nix {
            config = { boot.zfs.package = \"/stand-in/zfs\"; };
            pkgs = { bakc = \"/stand-in/bakc\"; writeText = name: text: builtins.toFile name text; };
          }" > /dev/null
          bakc units "$host" -o $TEST_ROOT/units-$node
        done
        touch $out
      '';
}
