"""The controlled vocabularies of a sharing request.

Each value is a stable machine code (used in requests, facts and rule files) with a
plain-English label used in rationales. Changing a code is a breaking change.
"""

from __future__ import annotations

from enum import StrEnum


class Labelled(StrEnum):
    """A StrEnum whose members carry a human label (``member.label``)."""

    label: str

    def __new__(cls, value: str, label: str = "") -> "Labelled":
        obj = str.__new__(cls, value)
        obj._value_ = value
        obj.label = label or value.replace("_", " ")
        return obj

    @classmethod
    def _missing_(cls, value: object) -> "Labelled | None":
        """A value may also be written as its IRI in the DPV mapping (sharelaw.dpv), e.g.
        ``https://w3id.org/dpv#ConsentWithdrawn`` for ``withdrawn``."""
        if not isinstance(value, str) or ":" not in value:
            return None
        from .dpv.table import code_for_iri  # lazily: the table is data, read on the first IRI

        code = code_for_iri(cls.__name__, value)
        return cls(code) if code is not None else None

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema, handler):  # type: ignore[no-untyped-def]
        """The JSON Schema lists every value with its plain-English meaning, so a caller
        reading ``sharelaw schema request`` sees what each code means."""
        schema = handler(core_schema)
        schema = handler.resolve_ref_schema(schema)
        meanings = "; ".join(f"'{m.value}': {m.label}" for m in cls)
        doc = (cls.__doc__ or "").strip()
        if doc and not doc.startswith("A StrEnum") and "An enumeration" not in doc:
            schema["description"] = f"{doc} Values: {meanings}."
        else:
            schema["description"] = f"Values: {meanings}."
        return schema


class Interaction(Labelled):
    """The decision matrix of domain.md: which of the four sharing actions this is."""

    OFFER = "offer", "offering information it holds"
    DISCLOSE_ON_REQUEST = "disclose_on_request", "disclosing information on request"
    REQUEST = "request", "requesting information another agency holds"
    ACCEPT_OFFER = "accept_offer", "accepting information offered by another agency"


class AgencyKind(Labelled):
    LA_CHILDRENS_SOCIAL_CARE = "la_childrens_social_care", "local authority children's social care"
    LA_ADULT_SOCIAL_CARE = "la_adult_social_care", "local authority adult social care"
    LA_HOUSING = "la_housing", "local housing authority"
    LA_EDUCATION = "la_education", "local authority education service"
    LA_OTHER = "la_other", "other council department"
    NHS_TRUST = "nhs_trust", "NHS trust"
    GP_PRACTICE = "gp_practice", "GP practice"
    INTEGRATED_CARE_BOARD = "integrated_care_board", "integrated care board (or its predecessor commissioner)"
    POLICE = "police", "police force"
    PROBATION = "probation", "probation service"
    YOUTH_OFFENDING_TEAM = "youth_offending_team", "youth offending team"
    MAINTAINED_SCHOOL = "maintained_school", "maintained school"
    ACADEMY = "academy", "academy"
    FE_COLLEGE = "fe_college", "further education college"
    YOUTH_SUPPORT = "youth_support", "youth support service (Connexions)"
    SAFEGUARDING_ADULTS_BOARD = "safeguarding_adults_board", "safeguarding adults board"
    PRISON = "prison", "prison or youth custody establishment"
    FIRE_AND_RESCUE = "fire_and_rescue", "fire and rescue authority"
    VOLUNTARY_ORGANISATION = "voluntary_organisation", "voluntary organisation"
    HOUSING_ASSOCIATION = "housing_association", "housing association"
    PRIVATE_COMPANY = "private_company", "private company"
    COURT = "court", "court"
    # Schema 3: parties that are not agencies, and health care outside the NHS.
    PRIVATE_INDIVIDUAL = "private_individual", (
        "a private individual (a member of the public, such as a parent, carer or partner)"
    )
    INDEPENDENT_HEALTH_PROVIDER = "independent_health_provider", (
        "an independent or private health care provider or professional (private practice, independent hospital, pharmacy)"
    )


#: Whether a kind of body acts as a public authority by default. A request may
#: override this for one sharing (a housing association exercising a public function,
#: a company providing a contracted public service, a council acting privately).
PUBLIC_AUTHORITY_BY_DEFAULT: dict[AgencyKind, bool] = {
    AgencyKind.LA_CHILDRENS_SOCIAL_CARE: True,
    AgencyKind.LA_ADULT_SOCIAL_CARE: True,
    AgencyKind.LA_HOUSING: True,
    AgencyKind.LA_EDUCATION: True,
    AgencyKind.LA_OTHER: True,
    AgencyKind.NHS_TRUST: True,
    AgencyKind.GP_PRACTICE: True,
    AgencyKind.INTEGRATED_CARE_BOARD: True,
    AgencyKind.POLICE: True,
    AgencyKind.PROBATION: True,
    AgencyKind.YOUTH_OFFENDING_TEAM: True,
    AgencyKind.MAINTAINED_SCHOOL: True,
    AgencyKind.ACADEMY: True,
    AgencyKind.FE_COLLEGE: True,
    AgencyKind.YOUTH_SUPPORT: True,
    AgencyKind.SAFEGUARDING_ADULTS_BOARD: True,
    AgencyKind.PRISON: True,
    AgencyKind.FIRE_AND_RESCUE: True,
    AgencyKind.VOLUNTARY_ORGANISATION: False,
    AgencyKind.HOUSING_ASSOCIATION: False,
    AgencyKind.PRIVATE_COMPANY: False,
    AgencyKind.COURT: True,
    AgencyKind.PRIVATE_INDIVIDUAL: False,
    AgencyKind.INDEPENDENT_HEALTH_PROVIDER: False,
}


class SharingKind(Labelled):
    """The three kinds of sharing in domain.md section 5."""

    ROUTINE = "routine", "routine sharing for planning, monitoring or improving a service"
    SERVICE_PROVISION = "service_provision", "day-to-day service provision for a specific person or family"
    CHILD_PROTECTION = "child_protection", "child protection"
    OTHER = "other", "other sharing"


class Purpose(Labelled):
    CHILD_PROTECTION_ENQUIRY = "child_protection_enquiry", "a child protection enquiry"
    CHILD_IN_NEED = "child_in_need", "assessing or supporting a child in need"
    EARLY_HELP = "early_help", "early help for a child or family"
    ADULT_SAFEGUARDING = "adult_safeguarding", "safeguarding an adult at risk"
    DIRECT_CARE = "direct_care", "direct health or social care of the person"
    CRIME_PREVENTION_DETECTION = "crime_prevention_detection", "preventing or detecting crime"
    CRIME_DISORDER_STRATEGY = "crime_disorder_strategy", "a crime and disorder reduction strategy"
    LEGAL_PROCEEDINGS = "legal_proceedings", "a court order or legal proceedings"
    EMERGENCY_RISK_TO_LIFE = "emergency_risk_to_life", "an emergency with a risk to life"
    RESEARCH_STATISTICS = "research_statistics", "research and statistics"
    SERVICE_PLANNING = "service_planning", "planning, monitoring or improving services"
    SAFEGUARDING_PARTNERSHIP = "safeguarding_partnership", (
        "the safeguarding partners' arrangements or a child safeguarding practice review"
    )
    YOUTH_SUPPORT_SERVICES = "youth_support_services", "youth support services for a young person (Connexions)"
    OFFENDER_RISK_MANAGEMENT = "offender_risk_management", (
        "assessing and managing the risks posed by sexual and violent offenders (MAPPA)"
    )
    DOMESTIC_ABUSE_DISCLOSURE = "domestic_abuse_disclosure", (
        "a disclosure to protect a person from domestic abuse (Domestic Violence Disclosure Scheme)"
    )
    SERIOUS_VIOLENCE_DUTY = "serious_violence_duty", "preventing and reducing serious violence (serious violence duty)"
    PUBLIC_SERVICE_DELIVERY = "public_service_delivery", (
        "improving or targeting a public service or benefit for individuals or households"
    )
    COMMERCIAL_MARKETING = "commercial_marketing", "marketing or another commercial purpose"
    # Schema 3: purposes a user looks for that 0.2 could not express.
    ADULT_CARE_SUPPORT = "adult_care_support", (
        "assessing or meeting an adult's needs for care and support, or a carer's (Care Act 2014 Part 1)"
    )
    AREA_WELLBEING = "area_wellbeing", (
        "a council's general functions: promoting the well-being of its area or people, or another activity "
        "under its general powers"
    )
    PUBLIC_HEALTH = "public_health", "protecting or improving public health"
    CHILD_SAFEGUARDING_PRACTICE_REVIEW = "child_safeguarding_practice_review", (
        "a local child safeguarding practice review of a serious child safeguarding case (Children Act 2004 s16F)"
    )
    SAFEGUARDING_ADULTS_REVIEW = "safeguarding_adults_review", (
        "a safeguarding adults review of the case of an adult with care and support needs (Care Act 2014 s44)"
    )
    DOMESTIC_HOMICIDE_REVIEW = "domestic_homicide_review", (
        "a domestic homicide review of the death of a person aged 16 or over (Domestic Violence, Crime and Victims "
        "Act 2004 s9)"
    )
    OFFENDER_MANAGEMENT_SCHEME = "offender_management_scheme", (
        "an offender management scheme (such as integrated offender management) to reduce reoffending"
    )
    CHILD_SEX_OFFENDER_DISCLOSURE = "child_sex_offender_disclosure", (
        "a disclosure to protect a child from a child sex offender (Criminal Justice Act 2003 s327A; the child sex "
        "offender disclosure scheme)"
    )
    INFORM_PARENT_OR_CARER = "inform_parent_or_carer", "informing a parent or carer about the person's welfare or care"
    PROTECT_PERSON = "protect_person", "protecting the person themselves from harm (their own safety or welfare)"
    OTHER = "other", "a purpose outside this vocabulary"


PURPOSE_KIND: dict[Purpose, SharingKind] = {
    Purpose.CHILD_PROTECTION_ENQUIRY: SharingKind.CHILD_PROTECTION,
    Purpose.CHILD_IN_NEED: SharingKind.SERVICE_PROVISION,
    Purpose.EARLY_HELP: SharingKind.SERVICE_PROVISION,
    Purpose.ADULT_SAFEGUARDING: SharingKind.SERVICE_PROVISION,
    Purpose.DIRECT_CARE: SharingKind.SERVICE_PROVISION,
    Purpose.CRIME_PREVENTION_DETECTION: SharingKind.SERVICE_PROVISION,
    Purpose.CRIME_DISORDER_STRATEGY: SharingKind.ROUTINE,
    Purpose.LEGAL_PROCEEDINGS: SharingKind.SERVICE_PROVISION,
    Purpose.EMERGENCY_RISK_TO_LIFE: SharingKind.SERVICE_PROVISION,
    Purpose.RESEARCH_STATISTICS: SharingKind.ROUTINE,
    Purpose.SERVICE_PLANNING: SharingKind.ROUTINE,
    Purpose.SAFEGUARDING_PARTNERSHIP: SharingKind.CHILD_PROTECTION,
    Purpose.YOUTH_SUPPORT_SERVICES: SharingKind.SERVICE_PROVISION,
    Purpose.OFFENDER_RISK_MANAGEMENT: SharingKind.SERVICE_PROVISION,
    Purpose.DOMESTIC_ABUSE_DISCLOSURE: SharingKind.SERVICE_PROVISION,
    Purpose.SERIOUS_VIOLENCE_DUTY: SharingKind.ROUTINE,
    Purpose.PUBLIC_SERVICE_DELIVERY: SharingKind.ROUTINE,
    Purpose.COMMERCIAL_MARKETING: SharingKind.OTHER,
    Purpose.ADULT_CARE_SUPPORT: SharingKind.SERVICE_PROVISION,
    Purpose.AREA_WELLBEING: SharingKind.ROUTINE,
    Purpose.PUBLIC_HEALTH: SharingKind.ROUTINE,
    Purpose.CHILD_SAFEGUARDING_PRACTICE_REVIEW: SharingKind.ROUTINE,
    Purpose.SAFEGUARDING_ADULTS_REVIEW: SharingKind.ROUTINE,
    Purpose.DOMESTIC_HOMICIDE_REVIEW: SharingKind.ROUTINE,
    Purpose.OFFENDER_MANAGEMENT_SCHEME: SharingKind.SERVICE_PROVISION,
    Purpose.CHILD_SEX_OFFENDER_DISCLOSURE: SharingKind.CHILD_PROTECTION,
    Purpose.INFORM_PARENT_OR_CARER: SharingKind.SERVICE_PROVISION,
    Purpose.PROTECT_PERSON: SharingKind.SERVICE_PROVISION,
    Purpose.OTHER: SharingKind.OTHER,
}


class DataCategory(Labelled):
    IDENTITY_CONTACT = "identity_contact", "identity and contact details"
    HEALTH = "health", "health information"
    MENTAL_HEALTH = "mental_health", "mental health information"
    SEXUAL_HEALTH = "sexual_health", "sexual health information"
    SOCIAL_CARE_RECORD = "social_care_record", "social care records"
    EDUCATION_RECORD = "education_record", "education records"
    CRIMINAL_OFFENCE = "criminal_offence", "criminal offence or allegation information"
    ETHNIC_ORIGIN = "ethnic_origin", "racial or ethnic origin"
    RELIGIOUS_BELIEF = "religious_belief", "religious or similar beliefs"
    SEX_LIFE_ORIENTATION = "sex_life_orientation", "sex life or sexual orientation"
    GENETIC_BIOMETRIC = "genetic_biometric", "genetic or biometric data"
    FINANCIAL = "financial", "financial information"


class Identifiability(Labelled):
    IDENTIFIABLE = "identifiable", "identifiable"
    PSEUDONYMISED = "pseudonymised", "pseudonymised"
    ANONYMISED = "anonymised", "anonymised"
    AGGREGATE = "aggregate", "aggregate figures"


class YesNoUnknown(Labelled):
    YES = "yes", "yes"
    NO = "no", "no"
    UNKNOWN = "unknown", "unknown"


class ConsentState(Labelled):
    EXPLICIT_FOR_THIS = "explicit_for_this", "explicit consent given for this sharing"
    EARLIER_COVERING = "earlier_covering", "consent given earlier that covers this sharing"
    IMPLIED_DIRECT_CARE = "implied_direct_care", "implied consent for direct care"
    REFUSED = "refused", "consent refused"
    WITHDRAWN = "withdrawn", "consent withdrawn"
    NOT_SOUGHT = "not_sought", "consent not sought"
    CANNOT_BE_GIVEN = "cannot_be_given", "consent cannot be given"
    UNSAFE_TO_SEEK = "unsafe_to_seek", (
        "consent not sought because seeking it would increase the risk of harm or prejudice an investigation"
    )
    # Schema 3: the reasons the law tells apart for not having consent.
    WOULD_PREJUDICE_PURPOSE = "would_prejudice_purpose", (
        "consent not sought because seeking it would prejudice the purpose (for example an investigation or the "
        "protection of the person), though it would not itself increase the risk"
    )
    CANNOT_REASONABLY_OBTAIN = "cannot_reasonably_obtain", (
        "consent not sought because the discloser cannot reasonably be expected to obtain it"
    )


class ConsentGiver(Labelled):
    SUBJECT = "subject", "the person themselves"
    PARENT = "parent", "a person with parental responsibility"
    ATTORNEY_OR_DEPUTY = "attorney_or_deputy", "an attorney or court-appointed deputy"
    # Schema 3: who may, and who may not, decide for an adult who lacks capacity.
    WELFARE_ATTORNEY = "welfare_attorney", (
        "an attorney under a registered lasting power of attorney for health and welfare (Mental Capacity Act 2005 s9)"
    )
    WELFARE_DEPUTY = "welfare_deputy", (
        "a deputy appointed by the Court of Protection with personal welfare powers (Mental Capacity Act 2005 s16)"
    )
    RELATIVE_OR_CARER = "relative_or_carer", (
        "a relative, friend or carer with no legal authority to consent for the person"
    )
    NONE = "none", "nobody"


class HarmLevel(Labelled):
    NONE = "none", "no identified risk of harm"
    WELFARE_CONCERN = "welfare_concern", "a welfare concern"
    SIGNIFICANT_HARM = "significant_harm", "a risk of significant harm"
    RISK_TO_LIFE = "risk_to_life", "a serious risk to life or limb"
    UNKNOWN = "unknown", "an unknown level of risk"


class PersonAtRisk(Labelled):
    """Schema 3: who the other person at risk is, when it is not the subject."""

    CHILD = "child", "a child"
    ADULT_AT_RISK = "adult_at_risk", "an adult at risk (care and support needs, unable to protect themselves)"
    OTHER_ADULT = "other_adult", "another adult"
    UNKNOWN = "unknown", "a person not described"
    NOT_APPLICABLE = "not_applicable", "nobody other than the subject"


class HarmTo(Labelled):
    SUBJECT = "subject", "the person"
    ANOTHER_PERSON = "another_person", "another person"
    PUBLIC = "public", "the public"
    NOT_APPLICABLE = "not_applicable", "nobody"


class StatutoryRequest(Labelled):
    NONE = "none", "no statutory request or order"
    S47_ENQUIRY = "s47_enquiry", "a request to assist child protection enquiries (Children Act 1989 s47(9))"
    S27_REQUEST = "s27_request", "a request for help under Children Act 1989 s27"
    SAB_S45_REQUEST = "sab_s45_request", "a safeguarding adults board request (Care Act 2014 s45)"
    COURT_ORDER = "court_order", "a court order"
    PUBLIC_TASK_REQUEST = "public_task_request", "a request from a body that needs the data for its public task"
    POLICE_REQUEST = "police_request", "a police request for the prevention or detection of crime"
    S16H_REQUEST = "s16h_request", "a safeguarding partner's request for information (Children Act 2004 s16H)"
    S117_REQUEST = "s117_request", "a Connexions provider's request to an educational institution (Learning and Skills Act 2000 s117)"
    S251_SUPPORT = "s251_support", "support under regulations made under NHS Act 2006 s251 for this medical purpose"
    CARE_ACT_S7_REQUEST = "care_act_s7_request", (
        "a request to co-operate in an individual's case (Care Act 2014 s7)"
    )


class Judgement(Labelled):
    YES = "yes", "yes"
    NO = "no", "no"
    NOT_ASSESSED = "not_assessed", "not assessed"


class AgeBand(Labelled):
    """Ages the law distinguishes: 13 (online consent), 16 (presumed capacity), 18 (adulthood)."""

    UNDER_13 = "under_13", "under 13"
    FROM_13_TO_15 = "13_to_15", "13 to 15"
    FROM_16_TO_17 = "16_to_17", "16 or 17"
    ADULT = "18_plus", "18 or over"
    UNKNOWN = "unknown", "of unknown age"


def age_band(age: int | None) -> AgeBand:
    if age is None:
        return AgeBand.UNKNOWN
    if age < 13:
        return AgeBand.UNDER_13
    if age < 16:
        return AgeBand.FROM_13_TO_15
    if age < 18:
        return AgeBand.FROM_16_TO_17
    return AgeBand.ADULT


class BasisKind(Labelled):
    """Stage-1 bases, strongest first (knowledge pack section 0.2)."""

    DUTY = "duty", "a statutory duty to share"
    EXPRESS_POWER = "express_power", "an express statutory power"
    IMPLIED_POWER = "implied_power", "a power implied from a statutory function"
    GENERAL_POWER = "general_power", "a general power"
    COMMON_LAW = "common_law", "a common law power or capacity"
    NONE = "none", "no basis"


class DutyDiscretion(Labelled):
    """Whether a stage-1 duty leaves the discloser any discretion (HRA 1998 s6(2)(a))."""

    NONE = "none", "a duty that leaves no discretion"
    QUALIFIED = "qualified", "a duty with its own exception or judgement"
    NO_DUTY = "no_duty", "no duty"


class DutySource(Labelled):
    """Where a stage-1 duty that leaves no discretion comes from (which part of HRA 1998 s6
    excuses compliance with it, and whether an enactment requires the disclosure)."""

    PRIMARY_LEGISLATION = "primary_legislation", "an Act of Parliament"
    SUBORDINATE_LEGISLATION = "subordinate_legislation", "regulations made under an Act"
    COURT_ORDER = "court_order", "an order of a court"
    NONE = "none", "no duty without discretion"


BASIS_RANK: dict[BasisKind, int] = {k: i for i, k in enumerate(BasisKind)}


class Stage(Labelled):
    """The four legal stages, in the order they are checked, then the local protocols.

    The protocol stage is not law: it applies the information sharing protocols that
    cover the parties, after the national stages, and can only narrow their result.
    """

    VIRES = "vires", "Stage 1: administrative powers (vires)"
    HRA = "hra", "Stage 2: Human Rights Act 1998 / ECHR Article 8"
    CONFIDENCE = "confidence", "Stage 3: common law duty of confidence"
    DATA_PROTECTION = "data_protection", "Stage 4: data protection"
    PROTOCOL = "protocol", "Local information sharing protocols"


STAGE_ORDER: tuple[Stage, ...] = tuple(Stage)
#: The stages of national law (what a ``sharelaw/ruleset@1`` file may declare).
NATIONAL_STAGES: tuple[Stage, ...] = (Stage.VIRES, Stage.HRA, Stage.CONFIDENCE, Stage.DATA_PROTECTION)


class StageStatus(Labelled):
    PASS = "pass", "passed"
    FAIL = "fail", "failed"
    REFER = "refer", "needs facts or a judgement"
    NOT_ENGAGED = "not_engaged", "not engaged"
    NOT_EVALUATED = "not_evaluated", "not evaluated (an earlier stage stopped the sharing)"


class Outcome(Labelled):
    MUST_SHARE = "must_share", "MUST SHARE"
    MAY_SHARE = "may_share", "MAY SHARE"
    MUST_NOT_SHARE = "must_not_share", "MUST NOT SHARE"
    REFER = "refer", "REFER: facts or a judgement are missing"


class EffectKind(Labelled):
    SATISFIES = "satisfies", "satisfies"
    FAILS = "fails", "fails"
    REFERS = "refers", "needs"
    NOTES = "notes", "notes"


class ConditionCode(Labelled):
    """Conditions attached to a decision to share."""

    MINIMUM_NECESSARY = "minimum_necessary", "Share only the minimum information necessary for the purpose."
    RECORD_DECISION = "record_decision", (
        "Record the decision and the reasons, whether or not you share; if you share, record what, with whom and when."
    )
    SECURE_TRANSFER = "secure_transfer", "Transfer the information securely."
    INFORM_SUBJECT = "inform_subject", (
        "Tell the person what is shared, with whom and why, unless that would prejudice the purpose or put someone at risk."
    )
    DO_NOT_ALERT_SUBJECT = "do_not_alert_subject", (
        "Do not tell the person before sharing: that would increase the risk or prejudice an investigation. Record why."
    )
    APPROPRIATE_POLICY_DOCUMENT = "appropriate_policy_document", (
        "The discloser must have an appropriate policy document in place for this condition "
        "(DPA 2018 Sch 1 Part 4; s42 for law enforcement processing)."
    )
    USE_LIMITED_TO_PURPOSE = "use_limited_to_purpose", (
        "The recipient may use the information only for the purpose for which it was disclosed."
    )
    COMPATIBLE_PURPOSE = "compatible_purpose", (
        "Check that this purpose is compatible with the purpose for which the information was obtained, "
        "or that an exemption relaxes purpose limitation; record which."
    )
    CONSISTENT_IDENTIFIER = "consistent_identifier", (
        "Include the person's NHS number as the consistent identifier, unless they object or it is not known."
    )
    CALDICOTT = "caldicott", "Apply the Caldicott principles: justify the purpose, need to know, minimum necessary."
    # Conditions a local protocol adds (its practices); the finding's reason gives the protocol's detail.
    NOMINATED_REPRESENTATIVE = "nominated_representative", (
        "Share through the partners' nominated representatives named in the protocol."
    )
    PROTOCOL_RECORDING = "protocol_recording", "Record the sharing in the form the protocol requires."
    RETENTION_LIMIT = "retention_limit", "The recipient keeps the information no longer than the protocol allows."
    NO_ONWARD_DISCLOSURE = "no_onward_disclosure", (
        "The recipient must not disclose the information further without the discloser's agreement."
    )


class WayForward(Labelled):
    """What a practitioner can do after a refusal or a referral."""

    SEEK_CONSENT = "seek_consent", "Seek the person's informed consent, if it is safe and appropriate to ask."
    ANONYMISE = "anonymise", "Share anonymised or aggregate information instead."
    SEEK_ORDER = "seek_order", "Ask the recipient to seek a court order or to use a statutory request power."
    IDENTIFY_FUNCTION = "identify_function", (
        "Identify the statutory function the sharing serves; without one there is no power to share."
    )
    RECORD_ASSESSMENT = "record_assessment", "Record the practitioner's assessment that is missing, with reasons."
    SEEK_ADVICE = "seek_advice", (
        "Seek advice from your information governance lead, data protection officer or Caldicott guardian."
    )
    SHARE_LESS = "share_less", "Reduce the information to what is necessary for the purpose."
    FOLLOW_PROTOCOL = "follow_protocol", "Follow the information sharing protocol's procedure for this case."
