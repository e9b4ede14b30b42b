//! Localized vocabulary of mail clients: header keywords, separator lines, "On … wrote"
//! words, "Sent from my iPhone" lines, subject prefixes, month names and time zones.
//!
//! Every table is data, not code: adding a language means adding rows. Keywords are stored
//! lowercase; lookups lowercase the input. Each row says which languages use it so a block of
//! headers can tell its language (needed where month names collide, e.g. `listopad` is
//! November in Polish and Czech but October in Croatian).

use std::collections::HashMap;
use std::sync::OnceLock;

/// The languages we recognise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Lang {
    En,
    Ja,
    Zh,
    Pl,
    De,
    Fr,
    Es,
    It,
    Pt,
    Nl,
    Sv,
    No,
    Da,
    Fi,
    Cs,
    Sk,
    Hu,
    Ro,
    Ru,
    Uk,
    Tr,
    Hr,
    Et,
}

/// A set of languages (bit per [`Lang`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LangSet(pub u32);

impl LangSet {
    pub(crate) const ALL: LangSet = LangSet(u32::MAX);
    #[cfg(test)]
    pub(crate) const fn of(l: Lang) -> LangSet {
        LangSet(1 << l as u32)
    }
    pub(crate) fn contains(self, l: Lang) -> bool {
        self.0 & (1 << l as u32) != 0
    }
    pub(crate) fn meet(self, other: LangSet) -> LangSet {
        LangSet(self.0 & other.0)
    }
    pub(crate) fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// Narrows `self` by `other` unless that would leave nothing (keywords shared by many
    /// languages, such as `Cc`, must not erase what a more specific keyword said).
    pub(crate) fn narrow(self, other: LangSet) -> LangSet {
        let m = self.meet(other);
        if m.is_empty() {
            self
        } else {
            m
        }
    }
}

macro_rules! langs {
    ($($l:ident),+) => { LangSet(0 $(| (1 << Lang::$l as u32))+) };
}

/// Which header a keyword names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    From,
    To,
    Cc,
    Bcc,
    Subject,
    Date,
    ReplyTo,
}

impl Field {
    pub(crate) fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// Header keywords as forwarding clients write them (`From:`, `Von:`, `差出人:`, …).
pub(crate) static HEADER_KEYS: &[(&str, Field, LangSet)] = &[
    // From
    ("from", Field::From, langs!(En)),
    ("von", Field::From, langs!(De)),
    ("absender", Field::From, langs!(De)),
    ("de", Field::From, langs!(Fr, Es, Pt)),
    ("expéditeur", Field::From, langs!(Fr)),
    ("remitente", Field::From, langs!(Es)),
    ("remetente", Field::From, langs!(Pt)),
    ("da", Field::From, langs!(It)),
    ("mittente", Field::From, langs!(It)),
    ("van", Field::From, langs!(Nl)),
    ("afzender", Field::From, langs!(Nl)),
    ("från", Field::From, langs!(Sv)),
    ("avsändare", Field::From, langs!(Sv)),
    ("fra", Field::From, langs!(No, Da)),
    ("avsender", Field::From, langs!(No)),
    ("afsender", Field::From, langs!(Da)),
    ("lähettäjä", Field::From, langs!(Fi)),
    ("od", Field::From, langs!(Cs, Sk, Pl, Hr)),
    ("odesílatel", Field::From, langs!(Cs)),
    ("odosielateľ", Field::From, langs!(Sk)),
    ("feladó", Field::From, langs!(Hu)),
    ("de la", Field::From, langs!(Ro)),
    ("expeditor", Field::From, langs!(Ro)),
    ("expeditorul", Field::From, langs!(Ro)),
    ("от", Field::From, langs!(Ru)),
    ("от кого", Field::From, langs!(Ru)),
    ("отправитель", Field::From, langs!(Ru)),
    ("від", Field::From, langs!(Uk)),
    ("від кого", Field::From, langs!(Uk)),
    ("відправник", Field::From, langs!(Uk)),
    ("kimden", Field::From, langs!(Tr)),
    ("gönderen", Field::From, langs!(Tr)),
    ("šalje", Field::From, langs!(Hr)),
    ("pošiljatelj", Field::From, langs!(Hr)),
    ("saatja", Field::From, langs!(Et)),
    ("kellelt", Field::From, langs!(Et)),
    ("nadawca", Field::From, langs!(Pl)),
    ("差出人", Field::From, langs!(Ja)),
    ("送信者", Field::From, langs!(Ja)),
    ("送信元", Field::From, langs!(Ja)),
    ("发件人", Field::From, langs!(Zh)),
    ("發件人", Field::From, langs!(Zh)),
    ("寄件者", Field::From, langs!(Zh)),
    ("寄件人", Field::From, langs!(Zh)),
    // To
    ("to", Field::To, langs!(En)),
    ("an", Field::To, langs!(De)),
    ("empfänger", Field::To, langs!(De)),
    ("à", Field::To, langs!(Fr)),
    ("pour", Field::To, langs!(Fr)),
    ("destinataire", Field::To, langs!(Fr)),
    ("a", Field::To, langs!(It, Es, Fr)),
    ("para", Field::To, langs!(Es, Pt)),
    ("destinatario", Field::To, langs!(Es, It)),
    ("destinatário", Field::To, langs!(Pt)),
    ("aan", Field::To, langs!(Nl)),
    ("ontvanger", Field::To, langs!(Nl)),
    ("till", Field::To, langs!(Sv)),
    ("mottagare", Field::To, langs!(Sv)),
    ("til", Field::To, langs!(No, Da)),
    ("mottaker", Field::To, langs!(No)),
    ("modtager", Field::To, langs!(Da)),
    ("vastaanottaja", Field::To, langs!(Fi)),
    ("komu", Field::To, langs!(Cs, Sk)),
    ("příjemce", Field::To, langs!(Cs)),
    ("pre", Field::To, langs!(Sk)),
    ("príjemca", Field::To, langs!(Sk)),
    ("címzett", Field::To, langs!(Hu)),
    ("către", Field::To, langs!(Ro)),
    ("catre", Field::To, langs!(Ro)),
    ("destinatar", Field::To, langs!(Ro)),
    ("destinatarul", Field::To, langs!(Ro)),
    ("кому", Field::To, langs!(Ru, Uk)),
    ("получатель", Field::To, langs!(Ru)),
    ("одержувач", Field::To, langs!(Uk)),
    ("kime", Field::To, langs!(Tr)),
    ("alıcı", Field::To, langs!(Tr)),
    ("prima", Field::To, langs!(Hr)),
    ("za", Field::To, langs!(Hr)),
    ("primatelj", Field::To, langs!(Hr)),
    ("adressaat", Field::To, langs!(Et)),
    ("kellele", Field::To, langs!(Et)),
    ("saaja", Field::To, langs!(Et)),
    ("do", Field::To, langs!(Pl)),
    ("adresat", Field::To, langs!(Pl)),
    ("宛先", Field::To, langs!(Ja)),
    ("送信先", Field::To, langs!(Ja)),
    ("收件人", Field::To, langs!(Zh)),
    ("收件者", Field::To, langs!(Zh)),
    // Cc
    ("cc", Field::Cc, LangSet::ALL),
    ("kopie", Field::Cc, langs!(De, Cs, Nl)),
    ("kopie (cc)", Field::Cc, langs!(De)),
    ("copie", Field::Cc, langs!(Fr)),
    ("copie à", Field::Cc, langs!(Fr)),
    ("copia", Field::Cc, langs!(Es, It)),
    ("cópia", Field::Cc, langs!(Pt)),
    ("kopia", Field::Cc, langs!(Sv, Pl)),
    ("kopi", Field::Cc, langs!(No)),
    ("kopio", Field::Cc, langs!(Fi)),
    ("kópia", Field::Cc, langs!(Sk)),
    ("másolat", Field::Cc, langs!(Hu)),
    ("másolatot kap", Field::Cc, langs!(Hu)),
    ("копия", Field::Cc, langs!(Ru)),
    ("копія", Field::Cc, langs!(Uk)),
    ("bilgi", Field::Cc, langs!(Tr)),
    ("kopya", Field::Cc, langs!(Tr)),
    ("kopija", Field::Cc, langs!(Hr)),
    ("koopia", Field::Cc, langs!(Et)),
    ("dw", Field::Cc, langs!(Pl)),
    ("do wiadomości", Field::Cc, langs!(Pl)),
    ("抄送", Field::Cc, langs!(Zh)),
    ("副本", Field::Cc, langs!(Zh)),
    // Bcc (recognised so the block stays whole; not reported)
    ("bcc", Field::Bcc, LangSet::ALL),
    ("cci", Field::Bcc, langs!(Fr)),
    ("cco", Field::Bcc, langs!(Es, Pt)),
    ("ccn", Field::Bcc, langs!(It)),
    ("blindkopie", Field::Bcc, langs!(De)),
    ("udw", Field::Bcc, langs!(Pl)),
    ("密送", Field::Bcc, langs!(Zh)),
    // Subject
    ("subject", Field::Subject, langs!(En)),
    ("betreff", Field::Subject, langs!(De)),
    ("objet", Field::Subject, langs!(Fr)),
    ("sujet", Field::Subject, langs!(Fr)),
    ("asunto", Field::Subject, langs!(Es)),
    ("oggetto", Field::Subject, langs!(It)),
    ("assunto", Field::Subject, langs!(Pt)),
    ("onderwerp", Field::Subject, langs!(Nl)),
    ("ämne", Field::Subject, langs!(Sv)),
    ("emne", Field::Subject, langs!(No, Da)),
    ("aihe", Field::Subject, langs!(Fi)),
    ("předmět", Field::Subject, langs!(Cs)),
    ("predmet", Field::Subject, langs!(Sk, Hr)),
    ("tárgy", Field::Subject, langs!(Hu)),
    ("subiect", Field::Subject, langs!(Ro)),
    ("subiectul", Field::Subject, langs!(Ro)),
    ("тема", Field::Subject, langs!(Ru, Uk)),
    ("konu", Field::Subject, langs!(Tr)),
    ("naslov", Field::Subject, langs!(Hr)),
    ("teema", Field::Subject, langs!(Et)),
    ("temat", Field::Subject, langs!(Pl)),
    ("件名", Field::Subject, langs!(Ja)),
    ("主题", Field::Subject, langs!(Zh)),
    ("主旨", Field::Subject, langs!(Zh)),
    ("主題", Field::Subject, langs!(Zh)),
    // Date / Sent
    ("date", Field::Date, langs!(En, Fr)),
    ("sent", Field::Date, langs!(En)),
    ("datum", Field::Date, langs!(De, Nl, Sv, Cs, Hr)),
    ("gesendet", Field::Date, langs!(De)),
    ("envoyé", Field::Date, langs!(Fr)),
    ("envoyé le", Field::Date, langs!(Fr)),
    ("fecha", Field::Date, langs!(Es)),
    ("enviado", Field::Date, langs!(Es, Pt)),
    ("enviado el", Field::Date, langs!(Es)),
    ("enviada", Field::Date, langs!(Pt)),
    ("enviada em", Field::Date, langs!(Pt)),
    ("enviado em", Field::Date, langs!(Pt)),
    ("data", Field::Date, langs!(It, Pl, Pt, Ro)),
    ("inviato", Field::Date, langs!(It)),
    ("inviato il", Field::Date, langs!(It)),
    ("verzonden", Field::Date, langs!(Nl)),
    ("skickat", Field::Date, langs!(Sv)),
    ("dato", Field::Date, langs!(No, Da)),
    ("sendt", Field::Date, langs!(No, Da)),
    ("päivämäärä", Field::Date, langs!(Fi)),
    ("päiväys", Field::Date, langs!(Fi)),
    ("lähetetty", Field::Date, langs!(Fi)),
    ("odesláno", Field::Date, langs!(Cs)),
    ("dátum", Field::Date, langs!(Sk, Hu)),
    ("odoslané", Field::Date, langs!(Sk)),
    ("elküldve", Field::Date, langs!(Hu)),
    ("időpont", Field::Date, langs!(Hu)),
    ("dată", Field::Date, langs!(Ro)),
    ("trimis", Field::Date, langs!(Ro)),
    ("дата", Field::Date, langs!(Ru, Uk)),
    ("отправлено", Field::Date, langs!(Ru)),
    ("надіслано", Field::Date, langs!(Uk)),
    ("відправлено", Field::Date, langs!(Uk)),
    ("tarih", Field::Date, langs!(Tr)),
    ("gönderildi", Field::Date, langs!(Tr)),
    ("gönderilen", Field::Date, langs!(Tr)),
    ("gönderme tarihi", Field::Date, langs!(Tr)),
    ("poslano", Field::Date, langs!(Hr)),
    ("kuupäev", Field::Date, langs!(Et)),
    ("saadetud", Field::Date, langs!(Et)),
    ("wysłano", Field::Date, langs!(Pl)),
    ("wysłane", Field::Date, langs!(Pl)),
    ("日付", Field::Date, langs!(Ja)),
    ("送信日時", Field::Date, langs!(Ja)),
    ("日時", Field::Date, langs!(Ja)),
    ("日期", Field::Date, langs!(Zh)),
    ("发送时间", Field::Date, langs!(Zh)),
    ("發送時間", Field::Date, langs!(Zh)),
    ("寄件日期", Field::Date, langs!(Zh)),
    ("发送日期", Field::Date, langs!(Zh)),
    ("时间", Field::Date, langs!(Zh)),
    ("時間", Field::Date, langs!(Zh)),
    // Reply-To
    ("reply-to", Field::ReplyTo, langs!(En)),
    ("antwort an", Field::ReplyTo, langs!(De)),
    ("répondre à", Field::ReplyTo, langs!(Fr)),
    ("responder a", Field::ReplyTo, langs!(Es, Pt)),
    ("rispondi a", Field::ReplyTo, langs!(It)),
    ("antwoord aan", Field::ReplyTo, langs!(Nl)),
    ("svara till", Field::ReplyTo, langs!(Sv)),
    ("svar til", Field::ReplyTo, langs!(No, Da)),
    ("odpověď na", Field::ReplyTo, langs!(Cs)),
    ("odpovedať-pre", Field::ReplyTo, langs!(Sk)),
    ("válaszcím", Field::ReplyTo, langs!(Hu)),
    ("răspuns către", Field::ReplyTo, langs!(Ro)),
    ("ответ-кому", Field::ReplyTo, langs!(Ru)),
    ("кому відповісти", Field::ReplyTo, langs!(Uk)),
    ("yanıt adresi", Field::ReplyTo, langs!(Tr)),
    ("odgovori na", Field::ReplyTo, langs!(Hr)),
    ("odpowiedź-do", Field::ReplyTo, langs!(Pl)),
    // Apple Mail and Thunderbird in Polish.
    ("odpowiedź do", Field::ReplyTo, langs!(Pl)),
    ("odpowiedz do", Field::ReplyTo, langs!(Pl)),
    ("返信先", Field::ReplyTo, langs!(Ja)),
    ("回复至", Field::ReplyTo, langs!(Zh)),
];

/// What a separator line announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SeparatorKind {
    /// "Forwarded message", "Begin forwarded message:": only ever a forward.
    Forward,
    /// "-----Original Message-----": Outlook writes it for replies and forwards alike.
    Original,
}

/// Separator phrases, lowercase, after the decoration (`-`, `_`, `=`, `*`) and a final colon
/// are removed.
pub(crate) static SEPARATORS: &[(&str, SeparatorKind)] = &[
    ("forwarded message", SeparatorKind::Forward),
    ("begin forwarded message", SeparatorKind::Forward),
    ("forwarded e-mail", SeparatorKind::Forward),
    ("forwarded email", SeparatorKind::Forward),
    ("weitergeleitete nachricht", SeparatorKind::Forward),
    (
        "anfang der weitergeleiteten nachricht",
        SeparatorKind::Forward,
    ),
    ("weitergeleitete e-mail", SeparatorKind::Forward),
    ("message transféré", SeparatorKind::Forward),
    ("message transmis", SeparatorKind::Forward),
    ("message réexpédié", SeparatorKind::Forward),
    ("début du message réexpédié", SeparatorKind::Forward),
    ("début du message transféré", SeparatorKind::Forward),
    ("mensaje reenviado", SeparatorKind::Forward),
    ("inicio del mensaje reenviado", SeparatorKind::Forward),
    ("comienzo del mensaje reenviado", SeparatorKind::Forward),
    ("messaggio inoltrato", SeparatorKind::Forward),
    ("inizio messaggio inoltrato", SeparatorKind::Forward),
    ("mensagem reencaminhada", SeparatorKind::Forward),
    ("mensagem encaminhada", SeparatorKind::Forward),
    ("início da mensagem reencaminhada", SeparatorKind::Forward),
    ("início da mensagem encaminhada", SeparatorKind::Forward),
    ("doorgestuurd bericht", SeparatorKind::Forward),
    ("begin doorgestuurd bericht", SeparatorKind::Forward),
    ("doorgestuurde e-mail", SeparatorKind::Forward),
    ("vidarebefordrat meddelande", SeparatorKind::Forward),
    ("vidarebefordrat mejl", SeparatorKind::Forward),
    ("vidarebefordrat brev", SeparatorKind::Forward),
    ("videresendt melding", SeparatorKind::Forward),
    ("videresendt e-post", SeparatorKind::Forward),
    ("videresendt meddelelse", SeparatorKind::Forward),
    ("videresendt besked", SeparatorKind::Forward),
    ("start på videresendt besked", SeparatorKind::Forward),
    ("start på videresendt meddelelse", SeparatorKind::Forward),
    ("edelleenlähetetty viesti", SeparatorKind::Forward),
    ("välitetty viesti", SeparatorKind::Forward),
    ("välitetty viesti alkaa", SeparatorKind::Forward),
    ("přeposlaná zpráva", SeparatorKind::Forward),
    ("začátek přeposílané zprávy", SeparatorKind::Forward),
    ("preposlaná správa", SeparatorKind::Forward),
    ("začiatok preposlanej správy", SeparatorKind::Forward),
    ("továbbított üzenet", SeparatorKind::Forward),
    ("továbbított levél", SeparatorKind::Forward),
    ("továbbított levél kezdete", SeparatorKind::Forward),
    ("mesaj redirecționat", SeparatorKind::Forward),
    ("mesaj redirecţionat", SeparatorKind::Forward),
    ("mesaj transmis", SeparatorKind::Forward),
    ("începe mesajul redirecționat", SeparatorKind::Forward),
    ("începutul mesajului redirecționat", SeparatorKind::Forward),
    ("пересылаемое сообщение", SeparatorKind::Forward),
    ("пересланное сообщение", SeparatorKind::Forward),
    ("перенаправленное сообщение", SeparatorKind::Forward),
    ("начало переадресованного сообщения", SeparatorKind::Forward),
    ("переслане повідомлення", SeparatorKind::Forward),
    ("перенаправлене повідомлення", SeparatorKind::Forward),
    ("пересланий лист", SeparatorKind::Forward),
    ("початок листа, що пересилається", SeparatorKind::Forward),
    ("початок пересланого повідомлення", SeparatorKind::Forward),
    ("iletilmiş mesaj", SeparatorKind::Forward),
    ("iletilen mesaj", SeparatorKind::Forward),
    ("iletilen ileti", SeparatorKind::Forward),
    ("ileti başlangıcı", SeparatorKind::Forward),
    ("iletilen iletinin başlangıcı", SeparatorKind::Forward),
    ("proslijeđena poruka", SeparatorKind::Forward),
    ("započni proslijeđenu poruku", SeparatorKind::Forward),
    ("početak proslijeđene poruke", SeparatorKind::Forward),
    ("edastatud kiri", SeparatorKind::Forward),
    ("edastatud sõnum", SeparatorKind::Forward),
    ("edasisaadetud kiri", SeparatorKind::Forward),
    ("edastatud kirja algus", SeparatorKind::Forward),
    ("przekazana wiadomość", SeparatorKind::Forward),
    ("początek przekazywanej wiadomości", SeparatorKind::Forward),
    ("treść przekazanej wiadomości", SeparatorKind::Forward),
    ("wiadomość przesłana dalej", SeparatorKind::Forward),
    ("wiadomość przekazana dalej", SeparatorKind::Forward),
    ("転送されたメッセージ", SeparatorKind::Forward),
    ("メッセージを転送", SeparatorKind::Forward),
    ("転送メッセージ", SeparatorKind::Forward),
    ("転送メッセージの開始", SeparatorKind::Forward),
    ("转发的邮件", SeparatorKind::Forward),
    ("转发邮件", SeparatorKind::Forward),
    ("转发的消息", SeparatorKind::Forward),
    ("轉寄的郵件", SeparatorKind::Forward),
    ("轉寄郵件", SeparatorKind::Forward),
    ("已转发邮件", SeparatorKind::Forward),
    // Original message (reply or forward)
    ("original message", SeparatorKind::Original),
    ("ursprüngliche nachricht", SeparatorKind::Original),
    ("original-nachricht", SeparatorKind::Original),
    ("originalnachricht", SeparatorKind::Original),
    ("message d'origine", SeparatorKind::Original),
    ("message d’origine", SeparatorKind::Original),
    ("message original", SeparatorKind::Original),
    ("mensaje original", SeparatorKind::Original),
    ("messaggio originale", SeparatorKind::Original),
    ("mensagem original", SeparatorKind::Original),
    ("oorspronkelijk bericht", SeparatorKind::Original),
    ("origineel bericht", SeparatorKind::Original),
    ("ursprungligt meddelande", SeparatorKind::Original),
    ("originalmeddelande", SeparatorKind::Original),
    ("opprinnelig melding", SeparatorKind::Original),
    ("originalmelding", SeparatorKind::Original),
    ("oprindelig meddelelse", SeparatorKind::Original),
    ("original meddelelse", SeparatorKind::Original),
    ("alkuperäinen viesti", SeparatorKind::Original),
    ("původní zpráva", SeparatorKind::Original),
    ("pôvodná správa", SeparatorKind::Original),
    ("eredeti üzenet", SeparatorKind::Original),
    ("mesaj original", SeparatorKind::Original),
    ("mesajul original", SeparatorKind::Original),
    ("исходное сообщение", SeparatorKind::Original),
    ("оригинальное сообщение", SeparatorKind::Original),
    ("оригінальне повідомлення", SeparatorKind::Original),
    ("початкове повідомлення", SeparatorKind::Original),
    ("вихідне повідомлення", SeparatorKind::Original),
    ("özgün ileti", SeparatorKind::Original),
    ("orijinal mesaj", SeparatorKind::Original),
    ("özgün mesaj", SeparatorKind::Original),
    ("izvorna poruka", SeparatorKind::Original),
    ("originalna poruka", SeparatorKind::Original),
    ("algne sõnum", SeparatorKind::Original),
    ("algne kiri", SeparatorKind::Original),
    ("originaalsõnum", SeparatorKind::Original),
    ("wiadomość oryginalna", SeparatorKind::Original),
    ("oryginalna wiadomość", SeparatorKind::Original),
    ("元のメッセージ", SeparatorKind::Original),
    ("オリジナル メッセージ", SeparatorKind::Original),
    ("オリジナルメッセージ", SeparatorKind::Original),
    ("原始邮件", SeparatorKind::Original),
    ("原始郵件", SeparatorKind::Original),
    ("邮件原件", SeparatorKind::Original),
    ("原始信息", SeparatorKind::Original),
];

/// Words that end (or sit in) a reply attribution line: "On … John wrote:",
/// "Am … schrieb John:", "W dniu … napisał(a):", "… 写道：". Single words, lowercase; the
/// attribution detector splits candidate lines into words and looks them up.
pub(crate) static WROTE_WORDS: &[&str] = &[
    "wrote",
    "writes",
    "schrieb",
    "geschrieben",
    "écrit",
    "ecrit",
    "escribió",
    "escribio",
    "scritto",
    "escreveu",
    "schreef",
    "geschreven",
    "skrev",
    "kirjoitti",
    "napsal",
    "napsala",
    "napísal",
    "napísala",
    "írta",
    "scris",
    "пишет",
    "написал",
    "написала",
    "пише",
    "написав",
    "написала",
    "yazdı",
    "napisao",
    "napisala",
    "kirjutas",
    "napisał",
    "napisała",
    "napisana",
    "pisze",
    "följande",
];

/// Attribution markers in scripts without spaces between words.
pub(crate) static WROTE_CJK: &[&str] = &["書きました", "のメール", "写道", "寫道", "寫了", "写了"];

/// Words an attribution line starts with ("On", "Am", "Le", "W dniu", …): a line starting
/// with one of these may be wrapped onto the next line.
pub(crate) static ATTRIBUTION_STARTS: &[&str] = &[
    "on",
    "am",
    "le",
    "el",
    "il",
    "il giorno",
    "em",
    "op",
    "den",
    "d.",
    "w dniu",
    "dnia",
    "în",
    "in data",
    "dne",
    "dňa",
    "no dia",
    "pe",
    "på",
    "kun",
];

/// Lines mobile and web clients append: "Sent from my iPhone", "Von meinem iPhone gesendet".
/// Matched as a lowercase prefix of a short line.
pub(crate) static SENT_FROM_PREFIXES: &[&str] = &[
    "sent from my ",
    "sent from ",
    "sent with ",
    "sent via ",
    "get outlook for ",
    "von meinem ",
    "gesendet von ",
    "gesendet mit ",
    "holen sie sich outlook für ",
    "envoyé de mon ",
    "envoyé depuis mon ",
    "envoyé depuis ",
    "envoyé de ",
    "obtenir outlook pour ",
    "télécharger outlook pour ",
    "enviado desde mi ",
    "enviado desde ",
    "obtener outlook para ",
    "descargar outlook para ",
    "inviato da ",
    "inviato dal mio ",
    "scarica outlook per ",
    "ottieni outlook per ",
    "enviado do meu ",
    "enviado do ",
    "enviado a partir do ",
    "enviado de meu ",
    "enviado de ",
    "obter o outlook para ",
    "baixe o outlook para ",
    "obtenha o outlook para ",
    "verzonden vanaf mijn ",
    "verstuurd vanaf mijn ",
    "verzonden met ",
    "verstuurd vanaf ",
    "verzonden vanaf ",
    "download outlook voor ",
    "skickat från min ",
    "skickat från ",
    "skaffa outlook för ",
    "hämta outlook för ",
    "sendt fra min ",
    "sendt fra ",
    "hent outlook for ",
    "hent outlook til ",
    "få outlook ",
    "lähetetty ",
    "hanki outlook ",
    "odesláno z ",
    "odesláno ze ",
    "stáhněte si outlook ",
    "odoslané z ",
    "odoslané zo ",
    "stiahnite si outlook ",
    "küldve az ",
    "küldve ",
    "trimis de pe ",
    "trimis din ",
    "trimis de ",
    "descarcă outlook ",
    "отправлено с ",
    "отправлено из ",
    "отправлено со ",
    "получите outlook ",
    "скачайте outlook ",
    "надіслано з ",
    "відправлено з ",
    "надіслано із ",
    "отримайте outlook ",
    "ios için outlook",
    "android için outlook",
    "poslano s ",
    "poslano sa ",
    "poslano iz ",
    "preuzmite outlook ",
    "saadetud minu ",
    "saadetud ",
    "hankige outlook ",
    "hangi outlook ",
    "wysłane z ",
    "wysłano z ",
    "wysłane ze ",
    "wysłano ze ",
    "pobierz outlook ",
    "uzyskaj outlook ",
    "从我的",
    "发自我的",
    "發自我的",
    "寄件自",
    "获取 outlook",
    "取得 outlook",
];

/// "Sent from" lines that end with the marker instead: "iPhone'umdan gönderildi",
/// "iPhoneから送信", "iPhone-ról küldve".
pub(crate) static SENT_FROM_SUFFIXES: &[&str] = &[
    "gönderildi",
    "から送信",
    "から送信しました",
    "を入手",
    "küldve",
    "发送",
    "發送",
];

/// Which way a subject prefix points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PrefixKind {
    Forward,
    Reply,
}

/// Subject prefixes (lowercase, without the colon).
///
/// `vs` is "forward" in Danish/Norwegian Outlook but "reply" in Finnish; we count it as a
/// forward. `odp` is the Polish/Czech reply prefix ("odpowiedź", "odpověď").
pub(crate) static SUBJECT_PREFIXES: &[(&str, PrefixKind)] = &[
    ("fwd", PrefixKind::Forward),
    ("fw", PrefixKind::Forward),
    ("wg", PrefixKind::Forward),
    ("tr", PrefixKind::Forward),
    ("rv", PrefixKind::Forward),
    ("i", PrefixKind::Forward),
    ("inoltro", PrefixKind::Forward),
    ("enc", PrefixKind::Forward),
    ("reenv", PrefixKind::Forward),
    ("vs", PrefixKind::Forward),
    ("vb", PrefixKind::Forward),
    ("vl", PrefixKind::Forward),
    ("videresend", PrefixKind::Forward),
    ("doorst", PrefixKind::Forward),
    ("pd", PrefixKind::Forward),
    ("prześlij", PrefixKind::Forward),
    ("ilt", PrefixKind::Forward),
    ("redir.", PrefixKind::Forward),
    ("redir", PrefixKind::Forward),
    ("tov", PrefixKind::Forward),
    ("továbbítás", PrefixKind::Forward),
    ("pf", PrefixKind::Forward),
    ("přep", PrefixKind::Forward),
    ("pp", PrefixKind::Forward),
    ("prosl", PrefixKind::Forward),
    ("proslijeđeno", PrefixKind::Forward),
    ("edasi", PrefixKind::Forward),
    ("пересл", PrefixKind::Forward),
    ("переслано", PrefixKind::Forward),
    ("перес", PrefixKind::Forward),
    ("переслати", PrefixKind::Forward),
    ("転送", PrefixKind::Forward),
    ("转发", PrefixKind::Forward),
    ("轉寄", PrefixKind::Forward),
    ("轉發", PrefixKind::Forward),
    ("전달", PrefixKind::Forward),
    ("re", PrefixKind::Reply),
    ("aw", PrefixKind::Reply),
    ("antw", PrefixKind::Reply),
    ("sv", PrefixKind::Reply),
    ("r", PrefixKind::Reply),
    ("rif", PrefixKind::Reply),
    ("res", PrefixKind::Reply),
    ("resp", PrefixKind::Reply),
    ("odp", PrefixKind::Reply),
    ("odp.", PrefixKind::Reply),
    ("odpowiedź", PrefixKind::Reply),
    ("ynt", PrefixKind::Reply),
    ("yan", PrefixKind::Reply),
    ("v", PrefixKind::Reply),
    ("vá", PrefixKind::Reply),
    ("vast", PrefixKind::Reply),
    ("odg", PrefixKind::Reply),
    ("отв", PrefixKind::Reply),
    ("ответ", PrefixKind::Reply),
    ("відп", PrefixKind::Reply),
    ("відповідь", PrefixKind::Reply),
    ("返信", PrefixKind::Reply),
    ("回复", PrefixKind::Reply),
    ("回覆", PrefixKind::Reply),
    ("答复", PrefixKind::Reply),
    ("회신", PrefixKind::Reply),
    ("답장", PrefixKind::Reply),
];

/// Month names and abbreviations (lowercase, no trailing dot) with their month number.
/// Where a word means different months in different languages the more common reading
/// comes first and the date parser prefers a row whose languages match the header block.
pub(crate) static MONTHS: &[(&str, u8, LangSet)] = &[
    // English
    ("january", 1, langs!(En)),
    ("february", 2, langs!(En)),
    ("march", 3, langs!(En)),
    ("april", 4, langs!(En, De, Nl, Sv, No, Da, Ro)),
    ("may", 5, langs!(En, Es)),
    ("june", 6, langs!(En)),
    ("july", 7, langs!(En)),
    ("august", 8, langs!(En, De, No, Da, Ro, Sk, Et)),
    ("september", 9, langs!(En, De, Nl, Sv, Da, Sk, Et)),
    ("october", 10, langs!(En)),
    ("november", 11, langs!(En, De, Nl, Sv, No, Da, Sk, Hu, Et)),
    ("december", 12, langs!(En, Nl, Sv, Da, Sk, Hu)),
    ("jan", 1, langs!(En, De, Nl, Sv, No, Da, Hu, Pt)),
    ("feb", 2, langs!(En, De, Nl, Sv, No, Da, Es, It, Ro)),
    ("mar", 3, langs!(En, Es, It, Pt, Ro, Tr)),
    ("apr", 4, langs!(En, De, Nl, Sv, No, Da, Es, It, Pt, Ro)),
    ("jun", 6, langs!(En, Es, Pt, Nl, Sv, No, Da)),
    ("jul", 7, langs!(En, Es, Pt, Nl, Sv, No, Da)),
    ("aug", 8, langs!(En, De, Nl, Sv, No, Da, Hu, Ro)),
    ("sep", 9, langs!(En, Nl, Sv, No, Da, Es)),
    ("sept", 9, langs!(En, De, Fr, Es, Ro)),
    ("oct", 10, langs!(En, Fr, Es, Ro)),
    (
        "nov",
        11,
        langs!(En, De, Fr, Nl, Sv, No, Da, Es, It, Hu, Ro),
    ),
    ("dec", 12, langs!(En, Ro, Hu)),
    // German
    ("januar", 1, langs!(De, No, Da)),
    ("jänner", 1, langs!(De)),
    ("februar", 2, langs!(De, No, Da)),
    ("märz", 3, langs!(De)),
    ("mär", 3, langs!(De)),
    ("mai", 5, langs!(De, Fr, No, Ro, Et)),
    ("juuni", 6, langs!(Et)),
    ("juuli", 7, langs!(Et)),
    ("juni", 6, langs!(De, Nl, Sv, No, Da, Et)),
    ("juli", 7, langs!(De, Nl, Sv, No, Da, Et)),
    ("oktober", 10, langs!(De, Nl, Sv, No, Da)),
    ("dezember", 12, langs!(De)),
    ("okt", 10, langs!(De, Nl, Sv, No, Da, Hu, Et)),
    ("dez", 12, langs!(De, Pt)),
    // French
    ("janvier", 1, langs!(Fr)),
    ("janv", 1, langs!(Fr)),
    ("février", 2, langs!(Fr)),
    ("févr", 2, langs!(Fr)),
    ("fevrier", 2, langs!(Fr)),
    ("mars", 3, langs!(Fr, Sv, No)),
    ("avril", 4, langs!(Fr)),
    ("avr", 4, langs!(Fr)),
    ("juin", 6, langs!(Fr)),
    ("juillet", 7, langs!(Fr)),
    ("juil", 7, langs!(Fr)),
    ("août", 8, langs!(Fr)),
    ("aout", 8, langs!(Fr)),
    ("septembre", 9, langs!(Fr)),
    ("octobre", 10, langs!(Fr)),
    ("novembre", 11, langs!(Fr, It)),
    ("décembre", 12, langs!(Fr)),
    ("déc", 12, langs!(Fr)),
    ("decembre", 12, langs!(Fr)),
    // Spanish
    ("enero", 1, langs!(Es)),
    ("ene", 1, langs!(Es)),
    ("febrero", 2, langs!(Es)),
    ("marzo", 3, langs!(Es, It)),
    ("abril", 4, langs!(Es, Pt)),
    ("abr", 4, langs!(Es, Pt)),
    ("mayo", 5, langs!(Es)),
    ("junio", 6, langs!(Es)),
    ("julio", 7, langs!(Es)),
    ("agosto", 8, langs!(Es, It, Pt)),
    ("ago", 8, langs!(Es, It, Pt)),
    ("septiembre", 9, langs!(Es)),
    ("setiembre", 9, langs!(Es)),
    ("octubre", 10, langs!(Es)),
    ("noviembre", 11, langs!(Es)),
    ("diciembre", 12, langs!(Es)),
    ("dic", 12, langs!(Es, It)),
    // Italian
    ("gennaio", 1, langs!(It)),
    ("gen", 1, langs!(It)),
    ("febbraio", 2, langs!(It)),
    ("aprile", 4, langs!(It)),
    ("maggio", 5, langs!(It)),
    ("mag", 5, langs!(It)),
    ("giugno", 6, langs!(It)),
    ("giu", 6, langs!(It)),
    ("luglio", 7, langs!(It)),
    ("lug", 7, langs!(It)),
    ("settembre", 9, langs!(It)),
    ("set", 9, langs!(It, Pt)),
    ("ottobre", 10, langs!(It)),
    ("ott", 10, langs!(It)),
    ("dicembre", 12, langs!(It)),
    // Portuguese
    ("janeiro", 1, langs!(Pt)),
    ("fevereiro", 2, langs!(Pt)),
    ("fev", 2, langs!(Pt)),
    ("março", 3, langs!(Pt)),
    ("maio", 5, langs!(Pt)),
    ("junho", 6, langs!(Pt)),
    ("julho", 7, langs!(Pt)),
    ("setembro", 9, langs!(Pt)),
    ("outubro", 10, langs!(Pt)),
    ("out", 10, langs!(Pt)),
    ("novembro", 11, langs!(Pt)),
    ("dezembro", 12, langs!(Pt)),
    // Dutch
    ("januari", 1, langs!(Nl, Sv)),
    ("februari", 2, langs!(Nl, Sv)),
    ("maart", 3, langs!(Nl)),
    ("mrt", 3, langs!(Nl)),
    ("mei", 5, langs!(Nl)),
    ("augustus", 8, langs!(Nl)),
    // Swedish / Norwegian / Danish
    ("maj", 5, langs!(Sv, Da, Pl)),
    ("augusti", 8, langs!(Sv)),
    ("desember", 12, langs!(No)),
    ("des", 12, langs!(No)),
    ("marts", 3, langs!(Da)),
    // Finnish
    ("tammikuuta", 1, langs!(Fi)),
    ("tammikuu", 1, langs!(Fi)),
    ("tammik", 1, langs!(Fi)),
    ("helmikuuta", 2, langs!(Fi)),
    ("helmikuu", 2, langs!(Fi)),
    ("helmik", 2, langs!(Fi)),
    ("maaliskuuta", 3, langs!(Fi)),
    ("maaliskuu", 3, langs!(Fi)),
    ("maalisk", 3, langs!(Fi)),
    ("huhtikuuta", 4, langs!(Fi)),
    ("huhtikuu", 4, langs!(Fi)),
    ("huhtik", 4, langs!(Fi)),
    ("toukokuuta", 5, langs!(Fi)),
    ("toukokuu", 5, langs!(Fi)),
    ("toukok", 5, langs!(Fi)),
    ("kesäkuuta", 6, langs!(Fi)),
    ("kesäkuu", 6, langs!(Fi)),
    ("kesäk", 6, langs!(Fi)),
    ("heinäkuuta", 7, langs!(Fi)),
    ("heinäkuu", 7, langs!(Fi)),
    ("heinäk", 7, langs!(Fi)),
    ("elokuuta", 8, langs!(Fi)),
    ("elokuu", 8, langs!(Fi)),
    ("elok", 8, langs!(Fi)),
    ("syyskuuta", 9, langs!(Fi)),
    ("syyskuu", 9, langs!(Fi)),
    ("syysk", 9, langs!(Fi)),
    ("lokakuuta", 10, langs!(Fi)),
    ("lokakuu", 10, langs!(Fi)),
    ("lokak", 10, langs!(Fi)),
    ("marraskuuta", 11, langs!(Fi)),
    ("marraskuu", 11, langs!(Fi)),
    ("marrask", 11, langs!(Fi)),
    ("joulukuuta", 12, langs!(Fi)),
    ("joulukuu", 12, langs!(Fi)),
    ("jouluk", 12, langs!(Fi)),
    // Polish (nominative, genitive, Gmail abbreviations)
    ("styczeń", 1, langs!(Pl)),
    ("stycznia", 1, langs!(Pl)),
    ("sty", 1, langs!(Pl)),
    ("luty", 2, langs!(Pl)),
    ("lutego", 2, langs!(Pl)),
    ("lut", 2, langs!(Pl)),
    ("marzec", 3, langs!(Pl)),
    ("marca", 3, langs!(Pl, Sk)),
    ("kwiecień", 4, langs!(Pl)),
    ("kwietnia", 4, langs!(Pl)),
    ("kwi", 4, langs!(Pl)),
    ("maja", 5, langs!(Pl)),
    ("czerwiec", 6, langs!(Pl)),
    ("czerwca", 6, langs!(Pl)),
    ("cze", 6, langs!(Pl)),
    ("lipiec", 7, langs!(Pl)),
    ("lipca", 7, langs!(Pl)),
    ("lip", 7, langs!(Pl)),
    ("sierpień", 8, langs!(Pl)),
    ("sierpnia", 8, langs!(Pl)),
    ("sie", 8, langs!(Pl)),
    ("wrzesień", 9, langs!(Pl)),
    ("września", 9, langs!(Pl)),
    ("wrz", 9, langs!(Pl)),
    ("październik", 10, langs!(Pl)),
    ("października", 10, langs!(Pl)),
    ("paź", 10, langs!(Pl)),
    ("listopad", 11, langs!(Pl, Cs)),
    ("listopada", 11, langs!(Pl)),
    ("lis", 11, langs!(Pl)),
    ("grudzień", 12, langs!(Pl)),
    ("grudnia", 12, langs!(Pl)),
    ("gru", 12, langs!(Pl)),
    // Czech
    ("leden", 1, langs!(Cs)),
    ("ledna", 1, langs!(Cs)),
    ("únor", 2, langs!(Cs)),
    ("února", 2, langs!(Cs)),
    ("březen", 3, langs!(Cs)),
    ("března", 3, langs!(Cs)),
    ("duben", 4, langs!(Cs)),
    ("dubna", 4, langs!(Cs)),
    ("květen", 5, langs!(Cs)),
    ("května", 5, langs!(Cs)),
    ("červen", 6, langs!(Cs)),
    ("června", 6, langs!(Cs)),
    ("červenec", 7, langs!(Cs)),
    ("července", 7, langs!(Cs)),
    ("srpen", 8, langs!(Cs)),
    ("srpna", 8, langs!(Cs)),
    ("září", 9, langs!(Cs)),
    ("říjen", 10, langs!(Cs)),
    ("října", 10, langs!(Cs)),
    ("listopadu", 11, langs!(Cs)),
    ("prosinec", 12, langs!(Cs)),
    ("prosince", 12, langs!(Cs)),
    // Slovak
    ("január", 1, langs!(Sk, Hu)),
    ("januára", 1, langs!(Sk)),
    ("február", 2, langs!(Sk, Hu)),
    ("februára", 2, langs!(Sk)),
    ("marec", 3, langs!(Sk)),
    ("apríl", 4, langs!(Sk)),
    ("apríla", 4, langs!(Sk)),
    ("máj", 5, langs!(Sk)),
    ("mája", 5, langs!(Sk)),
    ("jún", 6, langs!(Sk)),
    ("júna", 6, langs!(Sk)),
    ("júl", 7, langs!(Sk)),
    ("júla", 7, langs!(Sk)),
    ("augusta", 8, langs!(Sk)),
    ("septembra", 9, langs!(Sk)),
    ("október", 10, langs!(Sk, Hu)),
    ("októbra", 10, langs!(Sk)),
    ("novembra", 11, langs!(Sk)),
    ("decembra", 12, langs!(Sk)),
    // Hungarian
    ("március", 3, langs!(Hu)),
    ("márc", 3, langs!(Hu)),
    ("április", 4, langs!(Hu)),
    ("ápr", 4, langs!(Hu)),
    ("május", 5, langs!(Hu)),
    ("máj", 5, langs!(Hu)),
    ("június", 6, langs!(Hu)),
    ("jún", 6, langs!(Hu)),
    ("július", 7, langs!(Hu)),
    ("júl", 7, langs!(Hu)),
    ("augusztus", 8, langs!(Hu)),
    ("szeptember", 9, langs!(Hu)),
    ("szept", 9, langs!(Hu)),
    ("febr", 2, langs!(Hu)),
    // Romanian
    ("ianuarie", 1, langs!(Ro)),
    ("ian", 1, langs!(Ro)),
    ("februarie", 2, langs!(Ro)),
    ("martie", 3, langs!(Ro)),
    ("aprilie", 4, langs!(Ro)),
    ("iunie", 6, langs!(Ro)),
    ("iun", 6, langs!(Ro)),
    ("iulie", 7, langs!(Ro)),
    ("iul", 7, langs!(Ro)),
    ("septembrie", 9, langs!(Ro)),
    ("octombrie", 10, langs!(Ro)),
    ("noiembrie", 11, langs!(Ro)),
    ("decembrie", 12, langs!(Ro)),
    // Russian
    ("январь", 1, langs!(Ru)),
    ("января", 1, langs!(Ru)),
    ("янв", 1, langs!(Ru)),
    ("февраль", 2, langs!(Ru)),
    ("февраля", 2, langs!(Ru)),
    ("февр", 2, langs!(Ru)),
    ("фев", 2, langs!(Ru)),
    ("март", 3, langs!(Ru)),
    ("марта", 3, langs!(Ru)),
    ("мар", 3, langs!(Ru)),
    ("апрель", 4, langs!(Ru)),
    ("апреля", 4, langs!(Ru)),
    ("апр", 4, langs!(Ru)),
    ("май", 5, langs!(Ru)),
    ("мая", 5, langs!(Ru)),
    ("июнь", 6, langs!(Ru)),
    ("июня", 6, langs!(Ru)),
    ("июн", 6, langs!(Ru)),
    ("июль", 7, langs!(Ru)),
    ("июля", 7, langs!(Ru)),
    ("июл", 7, langs!(Ru)),
    ("август", 8, langs!(Ru)),
    ("августа", 8, langs!(Ru)),
    ("авг", 8, langs!(Ru)),
    ("сентябрь", 9, langs!(Ru)),
    ("сентября", 9, langs!(Ru)),
    ("сент", 9, langs!(Ru)),
    ("сен", 9, langs!(Ru)),
    ("октябрь", 10, langs!(Ru)),
    ("октября", 10, langs!(Ru)),
    ("окт", 10, langs!(Ru)),
    ("ноябрь", 11, langs!(Ru)),
    ("ноября", 11, langs!(Ru)),
    ("нояб", 11, langs!(Ru)),
    ("ноя", 11, langs!(Ru)),
    ("декабрь", 12, langs!(Ru)),
    ("декабря", 12, langs!(Ru)),
    ("дек", 12, langs!(Ru)),
    // Ukrainian
    ("січень", 1, langs!(Uk)),
    ("січня", 1, langs!(Uk)),
    ("січ", 1, langs!(Uk)),
    ("лютий", 2, langs!(Uk)),
    ("лютого", 2, langs!(Uk)),
    ("лют", 2, langs!(Uk)),
    ("березень", 3, langs!(Uk)),
    ("березня", 3, langs!(Uk)),
    ("бер", 3, langs!(Uk)),
    ("квітень", 4, langs!(Uk)),
    ("квітня", 4, langs!(Uk)),
    ("квіт", 4, langs!(Uk)),
    ("травень", 5, langs!(Uk)),
    ("травня", 5, langs!(Uk)),
    ("трав", 5, langs!(Uk)),
    ("червень", 6, langs!(Uk)),
    ("червня", 6, langs!(Uk)),
    ("черв", 6, langs!(Uk)),
    ("липень", 7, langs!(Uk)),
    ("липня", 7, langs!(Uk)),
    ("лип", 7, langs!(Uk)),
    ("серпень", 8, langs!(Uk)),
    ("серпня", 8, langs!(Uk)),
    ("серп", 8, langs!(Uk)),
    ("вересень", 9, langs!(Uk)),
    ("вересня", 9, langs!(Uk)),
    ("вер", 9, langs!(Uk)),
    ("жовтень", 10, langs!(Uk)),
    ("жовтня", 10, langs!(Uk)),
    ("жовт", 10, langs!(Uk)),
    ("листопад", 11, langs!(Uk)),
    ("листопада", 11, langs!(Uk)),
    ("лист", 11, langs!(Uk)),
    ("грудень", 12, langs!(Uk)),
    ("грудня", 12, langs!(Uk)),
    ("груд", 12, langs!(Uk)),
    // Turkish
    ("ocak", 1, langs!(Tr)),
    ("oca", 1, langs!(Tr)),
    ("şubat", 2, langs!(Tr)),
    ("şub", 2, langs!(Tr)),
    ("mart", 3, langs!(Tr)),
    ("nisan", 4, langs!(Tr)),
    ("nis", 4, langs!(Tr)),
    ("mayıs", 5, langs!(Tr)),
    ("haziran", 6, langs!(Tr)),
    ("haz", 6, langs!(Tr)),
    ("temmuz", 7, langs!(Tr)),
    ("tem", 7, langs!(Tr)),
    ("ağustos", 8, langs!(Tr)),
    ("ağu", 8, langs!(Tr)),
    ("eylül", 9, langs!(Tr)),
    ("eyl", 9, langs!(Tr)),
    ("ekim", 10, langs!(Tr)),
    ("eki", 10, langs!(Tr)),
    ("kasım", 11, langs!(Tr)),
    ("kas", 11, langs!(Tr)),
    ("aralık", 12, langs!(Tr)),
    ("ara", 12, langs!(Tr)),
    // Croatian (listopad/lis/lip read as Polish unless the headers are Croatian)
    ("siječanj", 1, langs!(Hr)),
    ("siječnja", 1, langs!(Hr)),
    ("sij", 1, langs!(Hr)),
    ("veljača", 2, langs!(Hr)),
    ("veljače", 2, langs!(Hr)),
    ("velj", 2, langs!(Hr)),
    ("ožujak", 3, langs!(Hr)),
    ("ožujka", 3, langs!(Hr)),
    ("ožu", 3, langs!(Hr)),
    ("travanj", 4, langs!(Hr)),
    ("travnja", 4, langs!(Hr)),
    ("tra", 4, langs!(Hr)),
    ("svibanj", 5, langs!(Hr)),
    ("svibnja", 5, langs!(Hr)),
    ("svi", 5, langs!(Hr)),
    ("lipanj", 6, langs!(Hr)),
    ("lipnja", 6, langs!(Hr)),
    ("lip", 6, langs!(Hr)),
    ("srpanj", 7, langs!(Hr)),
    ("srpnja", 7, langs!(Hr)),
    ("srp", 7, langs!(Hr)),
    ("kolovoz", 8, langs!(Hr)),
    ("kolovoza", 8, langs!(Hr)),
    ("kol", 8, langs!(Hr)),
    ("rujan", 9, langs!(Hr)),
    ("rujna", 9, langs!(Hr)),
    ("ruj", 9, langs!(Hr)),
    ("listopad", 10, langs!(Hr)),
    ("listopada", 10, langs!(Hr)),
    ("lis", 10, langs!(Hr)),
    ("studeni", 11, langs!(Hr)),
    ("studenoga", 11, langs!(Hr)),
    ("studenog", 11, langs!(Hr)),
    ("stu", 11, langs!(Hr)),
    ("prosinac", 12, langs!(Hr)),
    ("prosinca", 12, langs!(Hr)),
    ("pro", 12, langs!(Hr)),
    // Estonian
    ("jaanuar", 1, langs!(Et)),
    ("jaan", 1, langs!(Et)),
    ("veebruar", 2, langs!(Et)),
    ("veebr", 2, langs!(Et)),
    ("märts", 3, langs!(Et)),
    ("aprill", 4, langs!(Et)),
    ("oktoober", 10, langs!(Et)),
    ("detsember", 12, langs!(Et)),
    ("dets", 12, langs!(Et)),
];

/// Time-zone abbreviations clients print after the time, with their offset in minutes.
pub(crate) static TIME_ZONES: &[(&str, i32)] = &[
    ("gmt", 0),
    ("utc", 0),
    ("ut", 0),
    ("z", 0),
    ("wet", 0),
    ("west", 60),
    ("bst", 60),
    ("cet", 60),
    ("cest", 120),
    ("mez", 60),
    ("mesz", 120),
    ("eet", 120),
    ("eest", 180),
    ("msk", 180),
    ("ist", 330),
    ("jst", 540),
    ("kst", 540),
    ("hkt", 480),
    ("sgt", 480),
    ("awst", 480),
    ("acst", 570),
    ("aest", 600),
    ("aedt", 660),
    ("nzst", 720),
    ("nzdt", 780),
    ("est", -300),
    ("edt", -240),
    ("cst", -360),
    ("cdt", -300),
    ("mst", -420),
    ("mdt", -360),
    ("pst", -480),
    ("pdt", -420),
    ("akst", -540),
    ("akdt", -480),
    ("hst", -600),
    ("ast", -240),
    ("adt", -180),
    ("nst", -210),
    ("brt", -180),
    ("art", -180),
    ("sečč", 120),
    ("seč", 60),
    ("selč", 120),
    ("oez", 120),
    ("oesz", 180),
    ("wez", 0),
    ("wesz", 60),
    ("мск", 180),
];

/// What a long zone name says about the offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ZoneName {
    /// A fixed offset in minutes (`Japan Standard Time`, `CEST` spelt out).
    Fixed(i32),
    /// Central European time without saying which: +1 h in winter, +2 h under EU summer time.
    CentralEuropean,
}

/// Zone names written out, as clients print them when the locale has no abbreviation (Apple
/// Mail, Outlook with Windows zone names): the wording of CLDR (what macOS, iOS and Android
/// print) in English, Polish, German and Japanese, and Windows' zone names; lowercase, matched
/// word by word, case-insensitively; the longest name wins (`czas środkowoeuropejski standardowy`
/// before `czas środkowoeuropejski`).
pub(crate) static LONG_TIME_ZONES: &[(&str, ZoneName)] = &[
    // Central European time.
    ("central european standard time", ZoneName::Fixed(60)),
    ("central european summer time", ZoneName::Fixed(120)),
    ("central european daylight time", ZoneName::Fixed(120)),
    ("central european time", ZoneName::CentralEuropean),
    ("central europe standard time", ZoneName::Fixed(60)),
    ("central europe daylight time", ZoneName::Fixed(120)),
    ("w. europe standard time", ZoneName::Fixed(60)),
    ("w. europe daylight time", ZoneName::Fixed(120)),
    ("romance standard time", ZoneName::Fixed(60)),
    ("romance daylight time", ZoneName::Fixed(120)),
    ("czas środkowoeuropejski standardowy", ZoneName::Fixed(60)),
    ("czas środkowoeuropejski letni", ZoneName::Fixed(120)),
    ("czas środkowoeuropejski", ZoneName::CentralEuropean),
    ("mitteleuropäische normalzeit", ZoneName::Fixed(60)),
    ("mitteleuropäische sommerzeit", ZoneName::Fixed(120)),
    ("mitteleuropäische zeit", ZoneName::CentralEuropean),
    ("中央ヨーロッパ標準時", ZoneName::Fixed(60)),
    ("中央ヨーロッパ夏時間", ZoneName::Fixed(120)),
    ("中央ヨーロッパ時間", ZoneName::CentralEuropean),
    // Japan (no summer time).
    ("japan standard time", ZoneName::Fixed(540)),
    ("japan time", ZoneName::Fixed(540)),
    ("tokyo standard time", ZoneName::Fixed(540)),
    ("tokyo daylight time", ZoneName::Fixed(540)),
    ("日本標準時", ZoneName::Fixed(540)),
    ("日本時間", ZoneName::Fixed(540)),
    ("japanische normalzeit", ZoneName::Fixed(540)),
    ("japanische zeit", ZoneName::Fixed(540)),
    ("japonia (czas standardowy)", ZoneName::Fixed(540)),
    ("czas japonia", ZoneName::Fixed(540)),
    // Britain and North America, spelt out the same way.
    ("greenwich mean time", ZoneName::Fixed(0)),
    ("coordinated universal time", ZoneName::Fixed(0)),
    ("british summer time", ZoneName::Fixed(60)),
    ("gmt standard time", ZoneName::Fixed(0)),
    ("gmt daylight time", ZoneName::Fixed(60)),
    ("eastern standard time", ZoneName::Fixed(-300)),
    ("eastern daylight time", ZoneName::Fixed(-240)),
    ("central standard time", ZoneName::Fixed(-360)),
    ("central daylight time", ZoneName::Fixed(-300)),
    ("mountain standard time", ZoneName::Fixed(-420)),
    ("mountain daylight time", ZoneName::Fixed(-360)),
    ("pacific standard time", ZoneName::Fixed(-480)),
    ("pacific daylight time", ZoneName::Fixed(-420)),
];

/// Japanese eras as printed before a year (`令和8年` is 2026): the era and the Gregorian year
/// before its first year. `元年` is year 1.
pub(crate) static JAPANESE_ERAS: &[(&str, u32)] = &[("令和", 2018), ("平成", 1988), ("昭和", 1925)];

/// Lowercases `s` the way the tables are written (Turkish `İ` → `i`).
pub(crate) fn lowercase(s: &str) -> String {
    s.chars().flat_map(lower_char).collect()
}

/// Header keyword lookup by lowercase keyword (hash map built on first use).
pub(crate) fn header_key(lower: &str) -> Option<(Field, LangSet)> {
    static MAP: OnceLock<HashMap<&'static str, (Field, LangSet)>> = OnceLock::new();
    MAP.get_or_init(|| HEADER_KEYS.iter().map(|&(k, f, l)| (k, (f, l))).collect())
        .get(lower)
        .copied()
}

/// Separator phrase lookup by lowercase phrase.
pub(crate) fn separator_kind(lower: &str) -> Option<SeparatorKind> {
    static MAP: OnceLock<HashMap<&'static str, SeparatorKind>> = OnceLock::new();
    MAP.get_or_init(|| SEPARATORS.iter().copied().collect())
        .get(lower)
        .copied()
}

/// Subject prefix lookup by lowercase prefix.
pub(crate) fn subject_prefix(lower: &str) -> Option<PrefixKind> {
    static MAP: OnceLock<HashMap<&'static str, PrefixKind>> = OnceLock::new();
    MAP.get_or_init(|| SUBJECT_PREFIXES.iter().copied().collect())
        .get(lower)
        .copied()
}

/// Month readings of a lowercase word, in table order (hash map built on first use).
pub(crate) fn month_readings(lower: &str) -> &'static [(u8, LangSet)] {
    static MAP: OnceLock<HashMap<&'static str, Vec<(u8, LangSet)>>> = OnceLock::new();
    let map = MAP.get_or_init(|| {
        let mut m: HashMap<&'static str, Vec<(u8, LangSet)>> = HashMap::new();
        for &(name, month, langs) in MONTHS {
            m.entry(name).or_default().push((month, langs));
        }
        m
    });
    map.get(lower).map(Vec::as_slice).unwrap_or(&[])
}

/// Lowercases one character; Turkish `İ` becomes a plain `i` (not `i` + combining dot) so
/// that "İleti" matches "ileti".
fn lower_char(c: char) -> std::char::ToLowercase {
    if c == 'İ' {
        'i'.to_lowercase()
    } else {
        c.to_lowercase()
    }
}

/// Case-insensitive equality of `s` with a lowercase table entry, without allocating.
pub(crate) fn eq_lower(s: &str, lower: &str) -> bool {
    let mut a = s.chars().flat_map(lower_char);
    let mut b = lower.chars();
    loop {
        match (a.next(), b.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) if x == y => {}
            _ => return false,
        }
    }
}

/// Does `s` start with the lowercase `prefix` (case-insensitively)? Returns the rest.
pub(crate) fn strip_prefix_lower<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let mut want = prefix.chars();
    let mut want_c = want.next();
    for (i, c) in s.char_indices() {
        if want_c.is_none() {
            return Some(&s[i..]);
        }
        for lc in lower_char(c) {
            match want_c {
                Some(w) if w == lc => want_c = want.next(),
                _ => return None,
            }
        }
    }
    want_c.is_none().then_some("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercase_helpers() {
        assert!(eq_lower("Ämne", "ämne"));
        assert!(eq_lower("FROM", "from"));
        assert!(!eq_lower("Fro", "from"));
        assert_eq!(
            strip_prefix_lower("Sent from my iPhone", "sent from "),
            Some("my iPhone")
        );
        assert_eq!(strip_prefix_lower("Sen", "sent"), None);
        assert_eq!(strip_prefix_lower("ÉCRIT x", "écrit"), Some(" x"));
    }

    #[test]
    fn tables_are_lowercase() {
        for (k, _, _) in HEADER_KEYS {
            assert_eq!(*k, k.to_lowercase(), "{k}");
        }
        for (k, _) in SEPARATORS {
            assert_eq!(*k, k.to_lowercase(), "{k}");
        }
        for (k, _, _) in MONTHS {
            assert_eq!(*k, k.to_lowercase(), "{k}");
        }
        for k in WROTE_WORDS
            .iter()
            .chain(SENT_FROM_PREFIXES)
            .chain(SENT_FROM_SUFFIXES)
        {
            assert_eq!(*k, k.to_lowercase(), "{k}");
        }
    }
}
