//! Admin user management: what `/_synapse/admin/v2/users` and friends do.

use std::sync::Arc;

use mxcd_db::{Db, DbError, ErrorKind, UserFilter, UserPatch, UserRow};

use super::accounts::{self, AccountsError, Registration};

/// A requested change to an existing user, already validated by the route.
#[derive(Debug, Default)]
pub struct Modify {
    pub displayname: Option<Option<String>>,
    pub avatar_url: Option<Option<String>>,
    pub admin: Option<bool>,
    pub password: Option<String>,
    pub logout_devices: bool,
    pub deactivated: Option<bool>,
    pub locked: Option<bool>,
    pub user_type: Option<Option<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    #[error("You may not demote yourself.")]
    SelfDemotion,
    #[error("No row found (users)")]
    NoSuchUser,
    #[error(transparent)]
    Accounts(#[from] AccountsError),
}

impl From<DbError> for UsersError {
    fn from(e: DbError) -> Self {
        match e.kind() {
            ErrorKind::NotFound => Self::NoSuchUser,
            _ => Self::Accounts(e.into()),
        }
    }
}

pub struct Service {
    db: Db,
    accounts: Arc<accounts::Service>,
}

impl Service {
    pub fn new(db: Db, accounts: Arc<accounts::Service>) -> Self {
        Self { db, accounts }
    }

    pub async fn get(&self, user_id: &str) -> Result<Option<UserRow>, UsersError> {
        Ok(self.db.get_user(user_id).await?)
    }

    pub async fn list(&self, filter: &UserFilter) -> Result<(Vec<UserRow>, i64), UsersError> {
        Ok(self.db.list_users(filter).await?)
    }

    /// Whether `user_id` is a server admin; unknown users are not.
    pub async fn is_admin(&self, user_id: &str) -> Result<bool, UsersError> {
        Ok(self.db.get_user(user_id).await?.is_some_and(|u| u.admin))
    }

    /// Sets the admin flag. `requester` may not demote itself.
    pub async fn set_admin(
        &self,
        requester: &str,
        user_id: &str,
        admin: bool,
    ) -> Result<(), UsersError> {
        if requester == user_id && !admin {
            return Err(UsersError::SelfDemotion);
        }
        let patch = UserPatch {
            admin: Some(admin),
            ..Default::default()
        };
        Ok(self.db.update_user(user_id, &patch).await?)
    }

    /// Creates a user as an admin does (no login, default display name = localpart).
    pub async fn create(
        &self,
        localpart: &str,
        password: Option<String>,
        admin: bool,
        displayname: Option<String>,
        avatar_url: Option<String>,
        user_type: Option<String>,
    ) -> Result<String, UsersError> {
        let reg = Registration {
            localpart: localpart.to_owned(),
            password,
            admin,
            displayname,
            user_type,
            login: None,
        };
        let (user_id, _) = self.accounts.register(reg).await?;
        if avatar_url.is_some() {
            let patch = UserPatch {
                avatar_url: Some(avatar_url),
                ..Default::default()
            };
            self.db.update_user(&user_id, &patch).await?;
        }
        Ok(user_id)
    }

    /// Applies an admin's changes to an existing user in Synapse's order: profile, admin flag,
    /// password (logging out other sessions), deactivation, lock, user type.
    pub async fn modify(
        &self,
        requester: &accounts::Requester,
        current: &UserRow,
        m: Modify,
    ) -> Result<(), UsersError> {
        let user_id = current.user_id.as_str();
        let mut patch = UserPatch {
            displayname: m.displayname,
            avatar_url: m.avatar_url,
            locked: m.locked,
            user_type: m.user_type,
            ..Default::default()
        };
        if let Some(admin) = m.admin.filter(|a| *a != current.admin) {
            if requester.user_id == user_id && !admin {
                return Err(UsersError::SelfDemotion);
            }
            patch.admin = Some(admin);
        }
        if let Some(pw) = &m.password {
            patch.password_hash = Some(Some(self.accounts.hash_password(pw).await?));
        }
        match m.deactivated {
            Some(true) if !current.deactivated => {
                patch.deactivated = Some(true);
                patch.password_hash = Some(None);
            }
            Some(false) if current.deactivated => patch.deactivated = Some(false),
            _ => {}
        }
        self.db.update_user(user_id, &patch).await?;
        if m.password.is_some() && m.logout_devices {
            let keep = (requester.user_id == user_id).then_some(requester.device_id.as_str());
            self.db.delete_all_sessions_except(user_id, keep).await?;
        }
        Ok(())
    }
}

impl Service {
    /// Every session of a user with where and when it was last used.
    pub async fn connections(&self, user_id: &str) -> Result<Vec<mxcd_db::Connection>, UsersError> {
        Ok(self.db.user_connections(user_id).await?)
    }
}
