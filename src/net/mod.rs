//! Network primitives every stage shares: packet time, the transport, the monitored ports and
//! link-layer numbers. A leaf: it imports nothing of the crate, so capture, decode, flow and the
//! record model can all use it without reaching into each other.

pub mod linktype;
pub mod ports;
mod time;
mod unreach;

pub use ports::{PortSet, Service};
pub use time::Timestamp;
pub use unreach::Unreach;

/// The transport of a monitored packet: printer ports are TCP or UDP, nothing else.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum L4 {
    Tcp,
    Udp,
}

impl L4 {
    pub fn ip_number(self) -> u8 {
        match self {
            L4::Tcp => 6,
            L4::Udp => 17,
        }
    }

    /// The name records carry (`proto`).
    pub fn name(self) -> &'static str {
        match self {
            L4::Tcp => "TCP",
            L4::Udp => "UDP",
        }
    }

    /// The transport a record's name stands for (reading records back).
    pub fn from_name(name: &str) -> Option<L4> {
        [L4::Tcp, L4::Udp].into_iter().find(|l| l.name() == name)
    }
}

impl serde::Serialize for L4 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// A closed set of facts with the stable names records carry: the enum, its `name()`, `ALL`,
/// `Display`, and serialisation as the name. Rules match the variants; only records see the
/// names, so renaming a variant can never silently disable a rule.
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        pub enum $ty:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $name:literal ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $ty {
            $( $(#[$vmeta])* $variant ),*
        }

        impl $ty {
            /// Every value, in declaration order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),*];

            /// The stable name records carry.
            pub fn name(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),*
                }
            }

            /// The value a record's name stands for (reading records back).
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($name => Some($ty::$variant),)*
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }
    };
}
pub(crate) use named_enum;
