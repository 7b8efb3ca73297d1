use chrono::Duration;

use super::*;
use crate::domain::EmailAddress;
use crate::ids::TenantId;

fn at(minutes: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
        + Duration::minutes(minutes)
}

fn record(id: &str, minutes: i64, values: &[(CrmField, &str)]) -> CrmRecord {
    let mut all: BTreeMap<CrmField, Option<String>> = default_mappings(CrmKind::Hubspot)
        .iter()
        .filter(|m| m.pulls())
        .map(|m| (m.field, normalise(m.field, None)))
        .collect();
    for (f, v) in values {
        all.insert(*f, Some((*v).to_owned()));
    }
    CrmRecord {
        id: id.to_owned(),
        modified_at: at(minutes),
        values: all,
    }
}

fn fresh() -> Contact {
    Contact::new(TenantId::new(), ContactId::new(), at(0))
}

/// A contact first synced from `r`, as the store would hold it.
fn synced(r: &CrmRecord) -> Contact {
    let m = merge(
        CrmKind::Hubspot,
        None,
        fresh(),
        r,
        &default_mappings(CrmKind::Hubspot),
    );
    m.contact
}

#[test]
fn a_new_record_becomes_a_contact_that_agrees_with_it() {
    let r = record(
        "1001",
        1,
        &[
            (CrmField::Email, "Ada@Example.com"),
            (CrmField::FirstName, "Ada"),
        ],
    );
    let r = CrmRecord {
        values: r
            .values
            .into_iter()
            .map(|(f, v)| (f, normalise(f, v.map(serde_json::Value::String).as_ref())))
            .collect(),
        ..r
    };
    let m = merge(
        CrmKind::Hubspot,
        None,
        fresh(),
        &r,
        &default_mappings(CrmKind::Hubspot),
    );
    assert_eq!(
        m.contact.email.as_ref().unwrap().as_str(),
        "ada@example.com"
    );
    assert_eq!(m.contact.first_name, "Ada");
    assert!(m.conflicts.is_empty() && m.to_push.is_empty() && m.errors.is_empty());
    let link = m.contact.crm.as_ref().unwrap();
    assert_eq!(link.id, "1001");
    assert_eq!(link.synced[&CrmField::EmailOptOut], "false");
    assert!(pending_push(&m.contact, &default_mappings(CrmKind::Hubspot)).is_empty());
}

#[test]
fn a_change_on_one_side_is_taken_or_pushed() {
    let mappings = default_mappings(CrmKind::Hubspot);
    let first = record("1", 1, &[(CrmField::FirstName, "Ada")]);
    let contact = synced(&first);
    // Only the CRM changed: taken.
    let crm = record("1", 5, &[(CrmField::FirstName, "Augusta")]);
    let m = merge(CrmKind::Hubspot, Some(&contact), fresh(), &crm, &mappings);
    assert_eq!(m.contact.first_name, "Augusta");
    assert_eq!(m.taken, vec![CrmField::FirstName]);
    assert!(m.conflicts.is_empty());
    // Only Herald changed: kept and pushed, its base unchanged until the CRM has it.
    let mut edited = contact.clone();
    edited.first_name = "Countess".into();
    edited.changed.insert(CrmField::FirstName, at(6));
    let again = record("1", 7, &[(CrmField::FirstName, "Ada")]);
    let m = merge(CrmKind::Hubspot, Some(&edited), fresh(), &again, &mappings);
    assert_eq!(m.contact.first_name, "Countess");
    assert_eq!(m.to_push, vec![CrmField::FirstName]);
    assert_eq!(
        m.contact.crm.as_ref().unwrap().synced[&CrmField::FirstName],
        "Ada"
    );
    let update = update_for(&m.contact, &Engagement::default(), &mappings).unwrap();
    assert_eq!(
        update.properties["firstname"],
        serde_json::json!("Countess")
    );
    // The CRM then holds the pushed value: both agree, nothing more to push.
    let back = record("1", 8, &[(CrmField::FirstName, "Countess")]);
    let m = merge(
        CrmKind::Hubspot,
        Some(&m.contact),
        fresh(),
        &back,
        &mappings,
    );
    assert!(m.to_push.is_empty() && m.conflicts.is_empty());
    assert!(pending_push(&m.contact, &mappings).is_empty());
}

#[test]
fn the_later_change_wins_a_conflict() {
    let mappings = default_mappings(CrmKind::Hubspot);
    let contact = synced(&record("1", 1, &[(CrmField::Company, "Acme")]));
    let mut edited = contact.clone();
    edited.company = Some("Herald Ltd".into());
    edited.changed.insert(CrmField::Company, at(10));
    // The CRM changed it earlier than Herald: Herald wins and pushes.
    let crm = record("1", 5, &[(CrmField::Company, "Globex")]);
    let m = merge(CrmKind::Hubspot, Some(&edited), fresh(), &crm, &mappings);
    assert_eq!(m.contact.company.as_deref(), Some("Herald Ltd"));
    assert_eq!(m.conflicts.len(), 1);
    assert_eq!(m.conflicts[0].winner, Side::Herald);
    assert_eq!(m.conflicts[0].rule, "later_change");
    assert_eq!(m.to_push, vec![CrmField::Company]);
    // The CRM changed it later: the CRM wins.
    let crm = record("1", 15, &[(CrmField::Company, "Globex")]);
    let m = merge(CrmKind::Hubspot, Some(&edited), fresh(), &crm, &mappings);
    assert_eq!(m.contact.company.as_deref(), Some("Globex"));
    assert_eq!(m.conflicts[0].winner, Side::Crm);
    assert!(m.to_push.is_empty());
}

#[test]
fn an_opt_out_on_either_side_wins_over_an_opt_in() {
    let mappings = default_mappings(CrmKind::Hubspot);
    // A contact Herald knew before the CRM was connected, opted out of email (at +30 min),
    // meets its CRM record, opted in and changed later (+50 min): the opt-out wins anyway.
    let mut herald_out = fresh();
    herald_out.email = Some(EmailAddress::parse("ada@example.com").unwrap());
    herald_out.opt_outs.insert("*#email".into());
    herald_out.changed.insert(CrmField::EmailOptOut, at(30));
    let crm_in = record(
        "1",
        50,
        &[
            (CrmField::Email, "ada@example.com"),
            (CrmField::EmailOptOut, "false"),
        ],
    );
    let m = merge(
        CrmKind::Hubspot,
        Some(&herald_out),
        fresh(),
        &crm_in,
        &mappings,
    );
    assert_eq!(m.conflicts.len(), 1, "{:?}", m.conflicts);
    assert_eq!(m.conflicts[0].field, CrmField::EmailOptOut);
    assert_eq!(m.conflicts[0].winner, Side::Herald);
    assert_eq!(m.conflicts[0].rule, "opt_out_wins");
    assert!(m.contact.opt_outs.contains("*#email"));
    assert_eq!(m.to_push, vec![CrmField::EmailOptOut]);
    let update = update_for(&m.contact, &Engagement::default(), &mappings).unwrap();
    assert_eq!(
        update.properties["hs_email_optout"],
        serde_json::json!(true)
    );
    // The other way round: the CRM's opt-out is older than Herald's opt-in; it still wins.
    let mut herald_in = fresh();
    herald_in.email = Some(EmailAddress::parse("bo@example.com").unwrap());
    herald_in.changed.insert(CrmField::SmsOptOut, at(40));
    let crm_out = record(
        "2",
        -100,
        &[
            (CrmField::Email, "bo@example.com"),
            (CrmField::SmsOptOut, "true"),
        ],
    );
    let m = merge(
        CrmKind::Hubspot,
        Some(&herald_in),
        fresh(),
        &crm_out,
        &mappings,
    );
    let sms: Vec<&Conflict> = m
        .conflicts
        .iter()
        .filter(|c| c.field == CrmField::SmsOptOut)
        .collect();
    assert_eq!(sms.len(), 1);
    assert_eq!(sms[0].winner, Side::Crm);
    assert_eq!(sms[0].rule, "opt_out_wins");
    assert!(m.contact.opt_outs.contains("*#sms"));
    assert!(consent_changed(&herald_in, &m.contact));
}

#[test]
fn opting_in_to_one_channel_of_an_unsubscribed_contact_keeps_the_others_out() {
    let mut c = fresh();
    c.unsubscribed = true;
    set_contact_value(&mut c, CrmField::EmailOptOut, Some("false")).unwrap();
    assert!(!c.unsubscribed);
    assert!(c.opt_outs.contains("*#sms") && c.opt_outs.contains("*#whatsapp"));
    assert!(!c.opt_outs.contains("*#email"));
    assert_eq!(
        contact_value(&c, CrmField::EmailOptOut).as_deref(),
        Some("false")
    );
    assert_eq!(
        contact_value(&c, CrmField::SmsOptOut).as_deref(),
        Some("true")
    );
}

#[test]
fn an_unusable_address_is_an_error_and_leaves_the_field() {
    let mappings = default_mappings(CrmKind::Hubspot);
    let r = record("1", 1, &[(CrmField::Phone, "call me maybe")]);
    let m = merge(CrmKind::Hubspot, None, fresh(), &r, &mappings);
    assert!(m.contact.phone.is_none());
    assert_eq!(m.errors.len(), 1);
    assert!(
        !m.errors[0].contains("call me"),
        "errors carry no values: {}",
        m.errors[0]
    );
}

#[test]
fn engagement_is_pushed_for_linked_contacts_only() {
    let mappings = default_mappings(CrmKind::Salesforce);
    let engagement = Engagement {
        last_opened_at: Some(at(3)),
        ..Engagement::default()
    };
    assert!(update_for(&fresh(), &engagement, &mappings).is_none());
    let c = synced(&record("003000000000001", 1, &[]));
    let u = update_for(&c, &engagement, &mappings).unwrap();
    assert_eq!(
        u.properties["Herald_Last_Opened_At__c"],
        serde_json::json!("2026-11-22T10:03:00.000Z")
    );
    assert_eq!(u.properties.len(), 1);
}

#[test]
fn mappings_are_checked() {
    assert!(mapping_issues(&default_mappings(CrmKind::Hubspot)).is_empty());
    assert!(mapping_issues(&default_mappings(CrmKind::Salesforce)).is_empty());
    let bad = vec![
        FieldMapping::new(CrmField::FirstName, "first name", SyncDirection::Both),
        FieldMapping::new(CrmField::LastOpenedAt, "opened", SyncDirection::Pull),
        FieldMapping::new(CrmField::Email, "email", SyncDirection::Both),
        FieldMapping::new(CrmField::Company, "EMAIL", SyncDirection::Both),
    ];
    let fields: Vec<String> = mapping_issues(&bad).into_iter().map(|i| i.field).collect();
    assert!(fields.contains(&"mappings[0].property".to_owned()));
    assert!(fields.contains(&"mappings[1].direction".to_owned()));
    assert!(fields.contains(&"mappings[2].direction".to_owned()));
    assert!(fields.contains(&"mappings[3].property".to_owned()));
    let no_address = vec![FieldMapping::new(
        CrmField::FirstName,
        "firstname",
        SyncDirection::Both,
    )];
    assert_eq!(mapping_issues(&no_address)[0].field, "mappings");
}
