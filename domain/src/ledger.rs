//! The double-entry ledger's vocabulary (docs/billing.md, "Ledger"): the
//! accounts money sits in, the kinds of entry that move it, and the
//! invariants every entry and every balance keeps. Amounts are integer
//! pence; a debit is positive and a credit negative, so an entry balances
//! when its postings add up to zero.
//!
//! What an account's balance means, by its side:
//! - a family's **receivable** (asset, debit): what the family owes;
//! - **Stripe clearing** (asset, debit): money collected at Stripe and not
//!   yet paid out;
//! - a tutor's **payable** (liability, credit): what the platform owes the
//!   tutor;
//! - **platform revenue** (credit): the platform's fees;
//! - a family's **prepaid packages** (liability, credit): lessons paid for
//!   and not yet taken.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::vocab::vocab;

/// One account of the ledger. Its key (`family_receivable:f1`) is its
/// record id in the store.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Account {
    FamilyReceivable(String),
    TutorPayable(String),
    PlatformRevenue,
    StripeClearing,
    PrepaidPackages(String),
}

impl Account {
    pub fn key(&self) -> String {
        self.to_string()
    }

    /// The account a key names; `None` for anything else.
    pub fn parse(key: &str) -> Option<Self> {
        let owned = |rest: &str| (!rest.is_empty()).then(|| rest.to_owned());
        match key.split_once(':') {
            None if key == "platform_revenue" => Some(Self::PlatformRevenue),
            None if key == "stripe_clearing" => Some(Self::StripeClearing),
            Some(("family_receivable", f)) => owned(f).map(Self::FamilyReceivable),
            Some(("tutor_payable", t)) => owned(t).map(Self::TutorPayable),
            Some(("prepaid_packages", f)) => owned(f).map(Self::PrepaidPackages),
            _ => None,
        }
    }
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::FamilyReceivable(id) => write!(f, "family_receivable:{id}"),
            Self::TutorPayable(id) => write!(f, "tutor_payable:{id}"),
            Self::PlatformRevenue => f.write_str("platform_revenue"),
            Self::StripeClearing => f.write_str("stripe_clearing"),
            Self::PrepaidPackages(id) => write!(f, "prepaid_packages:{id}"),
        }
    }
}

impl Serialize for Account {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Account {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let key = String::deserialize(d)?;
        Self::parse(&key)
            .ok_or_else(|| serde::de::Error::custom(format!("{key:?} is not a ledger account")))
    }
}

vocab! {
    /// What a journal entry records.
    pub enum EntryKind {
        /// A lesson (or a late cancellation, an absent seat) was charged
        /// for: the family owes it, the tutor has earned the net and the
        /// platform its fee.
        ChargeRequested = "charge_requested",
        /// Stripe collected a charge.
        ChargeSucceeded = "charge_succeeded",
        /// A charge given up for good: what was earned on it is taken back.
        ChargeFailed = "charge_failed",
        /// Money given back to a family.
        Refund = "refund",
        /// A tutor's earnings paid out to them.
        Payout = "payout",
        /// A family paid for a package of lessons.
        PackagePurchased = "package_purchased",
        /// A lesson paid from a package.
        PackageUsed = "package_used",
        /// A package lesson not spent in time.
        PackageExpired = "package_expired",
    }
}

/// One line of an entry: a debit (positive) or a credit (negative).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posting {
    pub account: Account,
    pub amount: i64,
}

/// A journal entry to write: its postings must add up to zero.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub kind: EntryKind,
    pub postings: Vec<Posting>,
}

impl Entry {
    /// The entry, if it balances and moves money; zero lines are left out.
    pub fn new(kind: EntryKind, lines: Vec<(Account, i64)>) -> Option<Self> {
        let postings: Vec<Posting> = lines
            .into_iter()
            .filter(|(_, amount)| *amount != 0)
            .map(|(account, amount)| Posting { account, amount })
            .collect();
        let sum: i128 = postings.iter().map(|p| i128::from(p.amount)).sum();
        (postings.len() >= 2 && sum == 0).then_some(Self { kind, postings })
    }
}

/// What [`check`] found wrong; an empty list is a sound ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Problem {
    /// An entry whose postings do not add up to zero.
    Unbalanced { entry: String, sum: i64 },
    /// An account whose stored balance is not the sum of its postings.
    BalanceDrift {
        account: String,
        balance: i64,
        postings: i64,
    },
}

/// The ledger's invariants over everything stored: every entry sums to
/// zero, and every account's balance equals the sum of its postings (an
/// account with postings and no balance row drifts from zero).
pub fn check<'a>(
    entries: impl IntoIterator<Item = (&'a str, &'a [Posting])>,
    balances: impl IntoIterator<Item = (&'a str, i64)>,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut sums: BTreeMap<String, i64> = BTreeMap::new();
    for (id, postings) in entries {
        let mut sum = 0i64;
        for p in postings {
            sum = sum.saturating_add(p.amount);
            let total = sums.entry(p.account.key()).or_default();
            *total = total.saturating_add(p.amount);
        }
        if sum != 0 {
            problems.push(Problem::Unbalanced {
                entry: id.to_owned(),
                sum,
            });
        }
    }
    let mut seen: BTreeMap<String, i64> = BTreeMap::new();
    for (account, balance) in balances {
        seen.insert(account.to_owned(), balance);
    }
    let accounts: std::collections::BTreeSet<&String> = sums.keys().chain(seen.keys()).collect();
    for account in accounts {
        let balance = seen.get(account).copied().unwrap_or(0);
        let postings = sums.get(account).copied().unwrap_or(0);
        if balance != postings {
            problems.push(Problem::BalanceDrift {
                account: account.clone(),
                balance,
                postings,
            });
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_keys_round_trip() {
        for a in [
            Account::FamilyReceivable("f1".into()),
            Account::TutorPayable("t1".into()),
            Account::PlatformRevenue,
            Account::StripeClearing,
            Account::PrepaidPackages("f1".into()),
        ] {
            assert_eq!(Account::parse(&a.key()), Some(a.clone()));
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(serde_json::from_str::<Account>(&json).unwrap(), a);
        }
        for bad in ["", "family_receivable:", "bank:1", "platform_revenue:x"] {
            assert_eq!(Account::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn an_entry_must_balance_and_move_money() {
        let f = Account::FamilyReceivable("f1".into());
        let t = Account::TutorPayable("t1".into());
        let e = Entry::new(
            EntryKind::ChargeRequested,
            vec![
                (f.clone(), 4000),
                (t.clone(), -3200),
                (Account::PlatformRevenue, -800),
            ],
        )
        .unwrap();
        assert_eq!(e.postings.len(), 3);
        assert!(
            Entry::new(
                EntryKind::ChargeRequested,
                vec![(f.clone(), 4000), (t.clone(), -3999)]
            )
            .is_none()
        );
        assert!(Entry::new(EntryKind::Payout, vec![(f.clone(), 0), (t.clone(), 0)]).is_none());
        let no_fee = Entry::new(
            EntryKind::ChargeRequested,
            vec![(f, 100), (t, -100), (Account::PlatformRevenue, 0)],
        )
        .unwrap();
        assert_eq!(no_fee.postings.len(), 2, "a zero line is left out");
    }

    #[test]
    fn the_check_finds_unbalanced_entries_and_drifting_balances() {
        let p = |account: Account, amount| Posting { account, amount };
        let good = vec![
            p(Account::StripeClearing, 4000),
            p(Account::FamilyReceivable("f1".into()), -4000),
        ];
        let bad = vec![p(Account::StripeClearing, 10)];
        assert!(
            check(
                [("e1", good.as_slice())],
                [("stripe_clearing", 4000), ("family_receivable:f1", -4000)]
            )
            .is_empty()
        );
        let problems = check(
            [("e1", good.as_slice()), ("e2", bad.as_slice())],
            [("stripe_clearing", 4000), ("platform_revenue", 5)],
        );
        assert_eq!(
            problems,
            [
                Problem::Unbalanced {
                    entry: "e2".into(),
                    sum: 10
                },
                Problem::BalanceDrift {
                    account: "family_receivable:f1".into(),
                    balance: 0,
                    postings: -4000
                },
                Problem::BalanceDrift {
                    account: "platform_revenue".into(),
                    balance: 5,
                    postings: 0
                },
                Problem::BalanceDrift {
                    account: "stripe_clearing".into(),
                    balance: 4000,
                    postings: 4010
                },
            ]
        );
    }
}
