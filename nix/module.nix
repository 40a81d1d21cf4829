# bakc's NixOS module (the flake's nixosModules.default). A host imports it
# together with its generated backup.nix:
#
#   imports = [ bakc.nixosModules.default ./backup.nix ];
#
# backup.nix itself takes bakc from pkgs.bakc; this module provides
# pkgs.bakc through the flake's overlay, and declares bakc.fleet, the
# fleet's folder, below which backup.nix finds the sops files of the
# secrets it declares to sops-nix.
{ overlay }:

{ lib, ... }:

{
  options.bakc.fleet = lib.mkOption {
    type = lib.types.path;
    example = lib.literalExpression "./backup";
    description = ''
      The bakc fleet's folder: the one that holds bakc.hcl. A backup.nix
      whose repositories have sops-nix secrets (password_file = { sops =
      "secrets/forge.yaml", key = "restic/password"; }) declares
      sops.secrets with sopsFile = bakc.fleet + "/secrets/forge.yaml".
      Needed only then.
    '';
  };

  config.nixpkgs.overlays = [ overlay ];
}
