//! The plain type between classify and correlate: what one syslog line says happened.

use serde::{Deserialize, Serialize};

/// What a line means for the image of a device. The set is closed (code); the patterns that
/// recognise each kind are data (`rules/signals/*.yaml`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    /// An image file was copied onto the device (`copy scp://… flash:`, `file copy … /var/tmp/`).
    Transfer,
    /// A checksum or signature check of an image was run by an operator (`verify /md5 …`).
    Verify,
    /// What the device boots next was changed (`boot system …`, `boot nxos …`, config-register).
    BootVar,
    /// A package was added to the install set (IOS-XE `install add`, Junos `request system software add`).
    InstallAdd,
    /// Added packages were activated (IOS-XE `install activate`), which reloads the device.
    InstallActivate,
    /// One command that installs an image and reloads the device by itself (NX-OS `install all`,
    /// Junos `request system software add … reboot`). Correlated as the steps it stands for:
    /// see [`SignalKind::correlates_as`].
    InstallReload,
    /// An activated install was committed (IOS-XE `install commit`).
    InstallCommit,
    /// The running configuration was saved (`write memory`, `copy run start`).
    ConfigSave,
    /// A configuration file, not an image, was copied (`copy tftp: running-config`, backups).
    ConfigCopy,
    /// The configuration was changed interactively (`%SYS-5-CONFIG_I`, `UI_COMMIT`).
    ConfigChange,
    /// An operator asked for a reload (`reload`, `request system reboot`).
    ReloadCmd,
    /// The device announced that it is going down (`%SYS-5-RELOAD`, `PFM_SYSTEM_RESET`).
    Reload,
    /// The device came back up (restart banner, `%SYS-6-BOOTTIME`, kernel banner); may carry the version.
    Boot,
    /// The device reported its running version outside a boot.
    Version,
    /// An image signature or integrity check failed.
    IntegrityFailure,
    /// A privileged session began: an administrator logged in (`%SEC_LOGIN-5-LOGIN_SUCCESS`,
    /// Junos `UI_LOGIN_EVENT` with a super-user class, ASA `605005`). `user`, `src` and, in
    /// `proto`, how (`ssh`, `telnet`, `console`, `WEB`, `https`, `netconf`, …).
    PrivilegedLogin,
    /// A session was raised to full privilege (ASA `502103 … To: 15`, IOS privilege 15,
    /// Junos class `super-user` assigned at authentication).
    PrivilegeChange,
    /// A local account was created or given full privilege (`username x privilege 15`,
    /// `set system login user x class super-user`, ASA `502101 … Priv: 15`); `account` names
    /// it, `user` who did it.
    AccountCreated,
    /// What loads the operating system changed: the config register / `confreg`, a ROMMON or
    /// boot-loader upgrade. A boot loader that skips image verification survives any image.
    BootloaderChange,
}

impl SignalKind {
    pub const ALL: [SignalKind; 19] = [
        SignalKind::Transfer,
        SignalKind::Verify,
        SignalKind::BootVar,
        SignalKind::InstallAdd,
        SignalKind::InstallActivate,
        SignalKind::InstallReload,
        SignalKind::InstallCommit,
        SignalKind::ConfigSave,
        SignalKind::ConfigCopy,
        SignalKind::ConfigChange,
        SignalKind::ReloadCmd,
        SignalKind::Reload,
        SignalKind::Boot,
        SignalKind::Version,
        SignalKind::IntegrityFailure,
        SignalKind::PrivilegedLogin,
        SignalKind::PrivilegeChange,
        SignalKind::AccountCreated,
        SignalKind::BootloaderChange,
    ];

    /// The name used in rule files, alerts and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            SignalKind::Transfer => "transfer",
            SignalKind::Verify => "verify",
            SignalKind::BootVar => "boot_var",
            SignalKind::InstallAdd => "install_add",
            SignalKind::InstallActivate => "install_activate",
            SignalKind::InstallReload => "install_reload",
            SignalKind::InstallCommit => "install_commit",
            SignalKind::ConfigSave => "config_save",
            SignalKind::ConfigCopy => "config_copy",
            SignalKind::ConfigChange => "config_change",
            SignalKind::ReloadCmd => "reload_cmd",
            SignalKind::Reload => "reload",
            SignalKind::Boot => "boot",
            SignalKind::Version => "version",
            SignalKind::IntegrityFailure => "integrity_failure",
            SignalKind::PrivilegedLogin => "privileged_login",
            SignalKind::PrivilegeChange => "privilege_change",
            SignalKind::AccountCreated => "account_created",
            SignalKind::BootloaderChange => "bootloader_change",
        }
    }
}

impl SignalKind {
    /// The kinds sequence rules see this kind as, in the order they happen. A kind is itself,
    /// except a command that does several steps at once: `install_reload` is the image set to
    /// boot next (`install_activate`) and the reload the command implies (`reload_cmd`), at the
    /// time of its line. So the rules need no step of their own for it, a staged image followed
    /// by such a command and a boot completes `t1601.image_replaced`, and one that stops there
    /// times out as staged *and reloaded*.
    pub fn correlates_as(self) -> &'static [SignalKind] {
        match self {
            SignalKind::InstallReload => &[SignalKind::InstallActivate, SignalKind::ReloadCmd],
            SignalKind::Transfer => &[SignalKind::Transfer],
            SignalKind::Verify => &[SignalKind::Verify],
            SignalKind::BootVar => &[SignalKind::BootVar],
            SignalKind::InstallAdd => &[SignalKind::InstallAdd],
            SignalKind::InstallActivate => &[SignalKind::InstallActivate],
            SignalKind::InstallCommit => &[SignalKind::InstallCommit],
            SignalKind::ConfigSave => &[SignalKind::ConfigSave],
            SignalKind::ConfigCopy => &[SignalKind::ConfigCopy],
            SignalKind::ConfigChange => &[SignalKind::ConfigChange],
            SignalKind::ReloadCmd => &[SignalKind::ReloadCmd],
            SignalKind::Reload => &[SignalKind::Reload],
            SignalKind::Boot => &[SignalKind::Boot],
            SignalKind::Version => &[SignalKind::Version],
            SignalKind::IntegrityFailure => &[SignalKind::IntegrityFailure],
            SignalKind::PrivilegedLogin => &[SignalKind::PrivilegedLogin],
            SignalKind::PrivilegeChange => &[SignalKind::PrivilegeChange],
            SignalKind::AccountCreated => &[SignalKind::AccountCreated],
            SignalKind::BootloaderChange => &[SignalKind::BootloaderChange],
        }
    }
}

impl std::fmt::Display for SignalKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Fields a rule may extract. The names are the capture-group names allowed in rule patterns.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalFields {
    /// Image file name without directory or file system (`c2900-universalk9-mz.SPA.157-3.M8.bin`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The path or URL as written (`flash:c2900….bin`, `scp://u@10.0.0.5/img.bin`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Server the image came from (address or name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Transfer protocol (`scp`, `tftp`, `ftp`, `http`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proto: Option<String>,
    /// Device account that did it (never the remote account inside a URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Address the session came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src: Option<String>,
    /// Software version (`15.7(3)M8`, `17.6.6a`, `21.4R3-S5.4`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The command line, for signals that came from command accounting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// The local account a line creates or gives privilege to (`username <account> privilege
    /// 15`): not who typed it, which is `user`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

/// The classify stage's verdict on one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Classification {
    /// Id of the signal rule that matched (`ios.cli.copy_image`).
    pub rule_id: std::sync::Arc<str>,
    /// Vendor of the rule's file (`cisco_ios`, `juniper_junos`, …).
    pub vendor: std::sync::Arc<str>,
    pub kind: SignalKind,
    pub fields: SignalFields,
}

/// Rule id of the boot a device's return stands for: the first line, of any kind, a device
/// told to reload sends after a silence (no rule file recognises it; the pipeline does).
pub const RESUMED_BOOT_RULE: &str = "pipeline.boot.resumed_after_silence";

/// Where a signal was seen: in the device's own log, or in a management host's telemetry
/// (process and network events) that names the device as its peer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventOrigin {
    #[default]
    Device,
    Host,
}

impl EventOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            EventOrigin::Device => "device",
            EventOrigin::Host => "host",
        }
    }

    pub fn is_device(&self) -> bool {
        *self == EventOrigin::Device
    }
}

/// A classified line attributed to one device at one time: the input of the correlate stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    /// Canonical device id (inventory name, else the normalised host name or sender address).
    pub device: String,
    /// Event time: the device clock when trustworthy, else the arrival time.
    pub time: crate::time::Millis,
    /// When the collector received the line, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received: Option<crate::time::Millis>,
    /// The clock `time` comes from (the device's stamp or the arrival time) ...
    #[serde(default)]
    pub time_source: crate::parse::trust::TimeSource,
    /// ... and why: what `explain` prints next to the time.
    #[serde(default)]
    pub time_reason: crate::parse::trust::TimeReason,
    pub kind: SignalKind,
    pub rule_id: String,
    pub vendor: String,
    /// The address the line came from: the syslog peer, a collector prefix's sender or ECS
    /// `log.source.address`; None when the input did not say (a plain file). Alerts carry it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    pub fields: SignalFields,
    /// Identity of the line's content (first body line and kind), to drop duplicate deliveries.
    /// A fixed, published hash (see `pipeline::extract`), since devices store recent ones.
    #[serde(default)]
    pub fingerprint: u64,
    /// The raw line as read, kept as evidence.
    pub message: String,
    /// The device's log, or a management host's telemetry about the device.
    #[serde(default, skip_serializing_if = "EventOrigin::is_device")]
    pub origin: EventOrigin,
}
