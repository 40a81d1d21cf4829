# bakc itself: the compiler (bakc compile, units, nas-plan, docs, …) and the
# runtime the generated units start (bakc run …), in one binary.
{
  lib,
  buildGoModule,
  makeWrapper,
  restic,
  bash,
  version,
}:

buildGoModule {
  pname = "bakc";
  inherit version;

  src = lib.cleanSource ../.;

  # The hash of `go mod vendor`. scripts/vendor-hash.sh checks it against
  # go.mod and go.sum (CI runs it); scripts/vendor-hash.sh --update
  # rewrites it here after a dependency changed.
  vendorHash = "sha256-iIE4hA/dMopnJqExFCnMCnrWvUgs9ToTOAHrhxe7KRw=";

  subPackages = [ "cmd/bakc" ];

  env.CGO_ENABLED = "0";

  ldflags = [
    "-s"
    "-w"
    "-X main.version=${version}"
  ];

  nativeBuildInputs = [ makeWrapper ];

  # The tests need restic, zfs-fuse, nix and systemd; they run in the
  # flake's checks.go-tests, not here.
  doCheck = false;

  # The runtime starts restic, and runs hooks with sh -c; a unit's PATH
  # on NixOS has neither.
  postInstall = ''
    wrapProgram $out/bin/bakc --prefix PATH : ${
      lib.makeBinPath [
        restic
        bash
      ]
    }
  '';

  meta = {
    description = "Compile a fleet's backup intent (HCL) into NixOS modules, systemd units and NAS plans, and run the backups";
    homepage = "https://github.com/holthome/bakc";
    mainProgram = "bakc";
    platforms = lib.platforms.unix;
  };
}
