; Belfry's hooks in the Tauri NSIS installer (bundle.windows.nsis.installerHooks).
;
; Provisioning: an admin ships belfry-managed.toml in the same folder as the
; installer. It is copied beside belfry.exe as managed.toml, which Belfry
; reads as the organization's settings (the Group Policy keys under
; HKLM\Software\Policies\Belfry win over it, key by key). docs/admin.md has
; the file's keys. An update (the installer run with /UPDATE) keeps it.

!macro NSIS_HOOK_POSTINSTALL
  IfFileExists "$EXEDIR\belfry-managed.toml" 0 belfry_no_provisioning
    CopyFiles /SILENT "$EXEDIR\belfry-managed.toml" "$INSTDIR\managed.toml"
    DetailPrint "Belfry: the organization's settings were installed from belfry-managed.toml"
  belfry_no_provisioning:
!macroend

!macro NSIS_HOOK_PREUNINSTALL
  ${If} $UpdateMode <> 1
    Delete "$INSTDIR\managed.toml"
  ${EndIf}
!macroend
