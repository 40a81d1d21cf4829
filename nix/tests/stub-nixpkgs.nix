# A stand-in for nixpkgs, for evaluating the flake's outputs on a machine
# that cannot fetch nixpkgs (bakc's CI): `import` of it takes nixpkgs'
# arguments ({ system, overlays }) and gives a package set in which every
# builder returns its arguments, so that a test can look at what the flake
# and nix/*.nix pass to them. It is not a package set anything can be
# built with. Used by nix/nix_test.go.
let
  lib = {
    genAttrs = names: f: builtins.listToAttrs (map (n: { name = n; value = f n; }) names);
    optionalAttrs = cond: attrs: if cond then attrs else { };
    optionals = cond: list: if cond then list else [ ];
    cleanSource = src: src;
    makeBinPath = pkgs: builtins.concatStringsSep ":" (map (p: "${p}/bin") pkgs);
    platforms.unix = [ "stub-unix" ];
  };

  # A "derivation" that remembers how it was made.
  stubDrv =
    kind: args:
    args
    // {
      stubKind = kind;
      outPath = "/stub/${args.pname or args.name or kind}";
      overrideAttrs = f: stubDrv kind (args // f args);
    };

  base =
    { system, pkgs }:
    {
      inherit lib;
      stdenv.isLinux = builtins.match ".*-linux" system != null;
      callPackage =
        fn: overrides:
        let
          f = if builtins.isFunction fn then fn else import fn;
          wanted = builtins.functionArgs f;
        in
        f (builtins.intersectAttrs wanted pkgs // overrides);
      buildGoModule = stubDrv "buildGoModule";
      mkShell = stubDrv "mkShell";
      runCommand = name: env: script: stubDrv "runCommand" (env // { inherit name script; });
      testers.runNixOSTest = stubDrv "runNixOSTest";
    }
    // lib.genAttrs [
      "makeWrapper"
      "restic"
      "bash"
      "go"
      "gopls"
      "nix"
      "nixfmt-rfc-style"
      "systemd"
      "zfs"
      "util-linux"
      "diffutils"
    ] (name: stubDrv "package" { inherit name; });
in
{
  system,
  overlays ? [ ],
  withGo126 ? true,
}:
let
  pkgs = builtins.foldl' (acc: overlay: acc // overlay pkgs acc) (
    base { inherit system pkgs; }
    // lib.optionalAttrs withGo126 { buildGo126Module = stubDrv "buildGo126Module"; }
  ) overlays;
in
pkgs
