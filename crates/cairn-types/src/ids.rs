//! Numeric ids. Each kind of object has its own newtype so that a `UserId`
//! can never be passed where a `TableId` is expected.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub struct $name(pub u64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A namespace (a schema in PostgreSQL terms).
    NamespaceId
);
id_type!(
    /// A table of any kind.
    TableId
);
id_type!(
    /// A user account. User ids partition the rows of user tables.
    UserId
);
id_type!(
    /// A background job.
    JobId
);
id_type!(
    /// A live-query subscription.
    LiveQueryId
);
id_type!(
    /// A storage location for the cold tier.
    StorageId
);
id_type!(
    /// A client connection; equal to the backend pid the wire reports.
    SessionId
);
