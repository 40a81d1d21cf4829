# bakc's NixOS module (the flake's nixosModules.default). A host imports it
# together with its generated backup.nix:
#
#   imports = [ bakc.nixosModules.default ./backup.nix ];
#
# backup.nix itself sets only standard NixOS options and takes bakc from
# pkgs.bakc; this module provides pkgs.bakc through the flake's overlay.
{ overlay }:

{ ... }:

{
  nixpkgs.overlays = [ overlay ];
}
