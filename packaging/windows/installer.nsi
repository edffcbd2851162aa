; Per-user Windows installer for uploader-gui (no administrator rights needed).
;
;   makensis /DVERSION=0.1.0 /DBUNDLE_DIR=dist\uploader-gui /DICON=build\uploader-gui.ico ^
;            /DOUTFILE=dist\uploader-gui-0.1.0-setup.exe packaging\windows\installer.nsi
;
; VERSION     the app version (uploader_gui.__version__)
; BUNDLE_DIR  the PyInstaller folder (dist\uploader-gui, with uploader-gui.exe in it)
; ICON        an .ico file: python packaging\icons.py ico build\uploader-gui.ico
; OUTFILE     the installer to write
; VERSION_QUAD  optional, four numbers for the file properties (default VERSION.0)
; FAST        optional, store the payload uncompressed (the Linux test only)
;
; Installs to %LOCALAPPDATA%\Programs\uploader-gui, adds Start-menu and desktop shortcuts
; and an entry in Settings > Apps (Add/Remove Programs) under HKCU. Uninstalling removes
; the program and those entries, and keeps the user's upload history and settings.
; Signing: see .github/workflows/release.yml (the installer and the uninstaller it writes
; are signed there with !uninstfinalize/!finalize when a certificate is configured).

Unicode true
!ifdef FAST
  SetCompress off
!else
  SetCompressor /SOLID lzma
!endif

!ifndef VERSION
  !error "Pass /DVERSION=<version>"
!endif
!ifndef BUNDLE_DIR
  !error "Pass /DBUNDLE_DIR=<the PyInstaller folder>"
!endif
!ifndef OUTFILE
  !define OUTFILE "uploader-gui-${VERSION}-setup.exe"
!endif
!ifndef VERSION_QUAD
  !define VERSION_QUAD "${VERSION}.0"
!endif
; Code signing hooks: defined by the release workflow when a certificate is available.
!ifdef SIGN_COMMAND
  !finalize '${SIGN_COMMAND} "%1"' = 0
  !uninstfinalize '${SIGN_COMMAND} "%1"' = 0
!endif

!define APP_ID "uploader-gui"
!define APP_NAME "Clinic Document Uploader"
!define APP_EXE "uploader-gui.exe"
!define PUBLISHER "uploader-gui"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${APP_ID}"

!include "MUI2.nsh"
!include "FileFunc.nsh"

Name "${APP_NAME}"
OutFile "${OUTFILE}"
RequestExecutionLevel user
InstallDir "$LOCALAPPDATA\Programs\${APP_ID}"
InstallDirRegKey HKCU "${UNINSTALL_KEY}" "InstallLocation"
ShowInstDetails show
ShowUninstDetails show
BrandingText "${APP_NAME} ${VERSION}"

VIProductVersion "${VERSION_QUAD}"
VIAddVersionKey "ProductName" "${APP_NAME}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "FileDescription" "${APP_NAME} installer"
VIAddVersionKey "CompanyName" "${PUBLISHER}"
VIAddVersionKey "LegalCopyright" "MIT licence"

!ifdef ICON
  !define MUI_ICON "${ICON}"
  !define MUI_UNICON "${ICON}"
!endif
!define MUI_ABORTWARNING
!define MUI_FINISHPAGE_RUN "$INSTDIR\${APP_EXE}"
!define MUI_FINISHPAGE_RUN_TEXT "Start ${APP_NAME}"

!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

Function .onInit
  SetShellVarContext current
FunctionEnd

Function un.onInit
  SetShellVarContext current
FunctionEnd

Section "Install" SecMain
  SetOutPath "$INSTDIR"
  ; An upgrade replaces the whole bundle, so no file of the old version lingers.
  RMDir /r "$INSTDIR\_internal"
  File /r "${BUNDLE_DIR}/*"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  CreateShortCut "$SMPROGRAMS\${APP_NAME}.lnk" "$INSTDIR\${APP_EXE}" "" "$INSTDIR\${APP_EXE}" 0
  CreateShortCut "$DESKTOP\${APP_NAME}.lnk" "$INSTDIR\${APP_EXE}" "" "$INSTDIR\${APP_EXE}" 0

  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "${APP_NAME}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Publisher" "${PUBLISHER}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\${APP_EXE},0"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKCU "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  IntFmt $0 "0x%08X" $0
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "EstimatedSize" "$0"
SectionEnd

Section "Uninstall"
  Delete "$SMPROGRAMS\${APP_NAME}.lnk"
  Delete "$DESKTOP\${APP_NAME}.lnk"
  ; Only the program folder: the upload history and settings (%LOCALAPPDATA%\uploader-gui)
  ; stay, since they are the clinic's record of what was sent.
  RMDir /r "$INSTDIR\_internal"
  Delete "$INSTDIR\${APP_EXE}"
  Delete "$INSTDIR\uploader-gui-cli.exe"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  DeleteRegKey HKCU "${UNINSTALL_KEY}"
SectionEnd
