//! Client registration, the dashboard's views of clients and their activity, and the clients
//! counted per day (for the operator's console).

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate};

use super::error::ServiceError;
use super::{now, Context};
use crate::domain::client::{
    self, Activity, Client, ClientBreakdown, ClientDay, ClientDetails, ClientInput,
};
use crate::domain::error::Errors;
use crate::domain::time::Calendar;
use crate::ports::storage::ClientCursor;
use crate::ports::{ClientDayStore, ClientStore, Clock, Metrics, Random};

pub const DEFAULT_PAGE: usize = 1000;
pub const MAX_PAGE: usize = 10_000;

#[derive(Clone)]
pub struct ClientService {
    clients: Arc<dyn ClientStore>,
    days: Arc<dyn ClientDayStore>,
    metrics: Arc<dyn Metrics>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    calendar: Calendar,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientPage {
    pub clients: Vec<Client>,
    pub next_page_token: Option<String>,
}

fn encode_token(cursor: &ClientCursor) -> String {
    format!("{}_{}", cursor.create_time.timestamp_millis(), cursor.name)
}

fn decode_token(token: &str) -> Option<ClientCursor> {
    let (millis, name) = token.split_once('_')?;
    Some(ClientCursor {
        create_time: DateTime::from_timestamp_millis(millis.parse().ok()?)?,
        name: name.to_string(),
    })
}

impl ClientService {
    pub fn new(ctx: &Context) -> Self {
        ClientService {
            clients: ctx.storage.clone(),
            days: ctx.storage.clone(),
            metrics: ctx.metrics.clone(),
            clock: ctx.clock.clone(),
            random: ctx.random.clone(),
            calendar: ctx.calendar,
        }
    }

    pub async fn register(&self, input: ClientInput) -> Result<Client, ServiceError> {
        let valid = client::validate_registration(&input)?;
        let client = Client {
            name: self.random.uuid(),
            create_time: now(self.clock.as_ref()),
            public_key: valid.public_key,
            browser: valid.browser,
            external_name: valid.external_name,
        };
        self.clients.create_client(&client).await?;
        self.metrics.client_registered();
        Ok(client)
    }

    /// Sets the external name when given (`None` leaves it as it is).
    /// Sets the external name (`Some(Some(name))`), clears it (`Some(None)`, or an empty name:
    /// the extension's options page sends `null` when the volunteer empties the field), or
    /// leaves it (`None`).
    pub async fn update(
        &self,
        name: &str,
        external_name: Option<Option<String>>,
    ) -> Result<Client, ServiceError> {
        let external_name = external_name.map(|n| n.filter(|n| !n.is_empty()));
        let mut errors = Errors::default();
        client::check_external_name(&mut errors, external_name.clone().flatten().as_deref());
        errors.into_result()?;
        let mut client = self.get(name).await?.client;
        if let Some(external_name) = external_name {
            client.external_name = external_name;
            self.clients.replace_client(&client).await?;
        }
        Ok(client)
    }

    pub async fn delete(&self, name: &str) -> Result<(), ServiceError> {
        Ok(self.clients.delete_client(name).await?)
    }

    pub async fn get(&self, name: &str) -> Result<ClientDetails, ServiceError> {
        self.clients
            .get_client(name)
            .await?
            .ok_or(ServiceError::NotFound)
    }

    /// A page of clients, newest first. `limit` defaults to 1000 and may not exceed 10,000.
    pub async fn list(
        &self,
        limit: Option<usize>,
        page_token: Option<&str>,
    ) -> Result<ClientPage, ServiceError> {
        let mut errors = Errors::default();
        let limit = limit.unwrap_or(DEFAULT_PAGE);
        if limit == 0 || limit > MAX_PAGE {
            errors.add("limit", format!("should be between 1 and {MAX_PAGE}"));
        }
        let cursor = page_token.map(decode_token);
        if matches!(cursor, Some(None)) {
            errors.add("pageToken", "is not a valid page token");
        }
        errors.into_result()?;
        let mut clients = self
            .clients
            .list_clients(limit + 1, cursor.flatten().as_ref())
            .await?;
        let next_page_token = if clients.len() > limit {
            clients.truncate(limit);
            clients.last().map(|c| {
                encode_token(&ClientCursor {
                    create_time: c.create_time,
                    name: c.name.clone(),
                })
            })
        } else {
            None
        };
        Ok(ClientPage {
            clients,
            next_page_token,
        })
    }

    /// Activity of one client (`NotFound` when unknown) or of all, oldest first; with `tail`
    /// = N only since local midnight N − 1 days ago.
    pub async fn activity(
        &self,
        client: Option<&str>,
        tail: Option<u32>,
    ) -> Result<Vec<Activity>, ServiceError> {
        if let Some(name) = client {
            self.get(name).await?;
        }
        let since = match tail {
            None => None,
            Some(0) => return Err(ServiceError::invalid("tail", "should be at least 1")),
            Some(n) => {
                let cal = &self.calendar;
                let days_back = Duration::days(i64::from(n.min(100_000)) - 1);
                let date = cal.local_date(now(self.clock.as_ref())) - days_back;
                Some(cal.at(date, chrono::NaiveTime::MIN))
            }
        };
        Ok(self.clients.list_activity(client, since).await?)
    }

    /// Clients registered now.
    pub async fn count(&self) -> Result<u64, ServiceError> {
        Ok(self.clients.count_clients().await?)
    }

    /// The days counted with a date in `[from, to]`, oldest first, and the breakdown of the
    /// last of them (countries and versions of its active clients).
    pub async fn days(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<(Vec<ClientDay>, Option<ClientBreakdown>), ServiceError> {
        let days = self.days.client_days(from, to).await?;
        let breakdown = match days.last() {
            Some(last) => self.days.client_breakdown(last.date).await?,
            None => None,
        };
        Ok((days, breakdown))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_token_round_trips() {
        let cursor = ClientCursor {
            create_time: DateTime::from_timestamp_millis(1_526_000_000_123).unwrap(),
            name: "3f1c-uuid_with_underscore".into(),
        };
        assert_eq!(decode_token(&encode_token(&cursor)), Some(cursor));
        assert_eq!(decode_token("garbage"), None);
        assert_eq!(decode_token("x_y"), None);
    }
}
