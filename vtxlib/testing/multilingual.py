"""A multilingual dev/test corpus spoken by espeak-ng: ten languages, split by voice and by text.

Each language has its own sentences (plain everyday statements written for this corpus), six for
the dev half and six others for the test half, and four espeak-ng voice variants, two per half,
so a constant chosen on dev (a threshold, a model) is reported on voices and texts it never saw.
The languages: English, Spanish, German, French, Italian, Portuguese, Dutch, Polish, Russian
(Cyrillic) and Japanese (a script without spaces between words: scored by characters). The
Japanese sentences are in kana, with spaces between phrases for espeak-ng only (they are removed
for scoring); Mandarin was tried and left out: espeak-ng 1.51's ``cmn`` voice reads its tone
digits as English numbers, and Whisper base hears it as English (dev half, p≈0.8).

A clip is one voice reading sentences of one half with short pauses, up to a target length;
:func:`make_clip` caches it in a folder named by its parameters, so a rerun only reads files.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence, Union

import numpy as np

from ..audio import SAMPLE_RATE
from ..errors import BackendUnavailable
from .synth import Voice, _speak

FORMAT_VERSION = 1
Half = Literal["dev", "test"]

#: Whisper's code -> espeak-ng's voice for that language
ESPEAK_VOICES = {"en": "en-us", "es": "es", "de": "de", "fr": "fr-fr", "it": "it", "pt": "pt",
                 "nl": "nl", "pl": "pl", "ru": "ru", "ja": "ja"}
#: scripts written without spaces between words: scored by characters (CER), not words
NO_SPACE_LANGUAGES = ("zh", "ja", "th", "yue", "my", "lo", "km")

SENTENCES: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "dev": ("The market opens every morning at eight o'clock.",
                "My sister works in a library near the river.",
                "We walked along the beach until the sun went down.",
                "The train to the city was late again today.",
                "He bought fresh bread and a bottle of milk.",
                "The children played football in the park after school."),
        "test": ("The old bridge was closed for repairs last winter.",
                 "She writes a letter to her grandmother every week.",
                 "Our neighbours painted their house a bright yellow.",
                 "The museum has a large collection of ancient coins.",
                 "Please turn off the lights when you leave the room.",
                 "The farmer sold apples and pears at the market."),
    },
    "es": {
        "dev": ("El mercado abre todos los días a las ocho de la mañana.",
                "Mi hermana trabaja en una biblioteca cerca del río.",
                "Caminamos por la playa hasta que se puso el sol.",
                "El tren a la ciudad llegó tarde otra vez hoy.",
                "Compró pan fresco y una botella de leche.",
                "Los niños jugaron al fútbol en el parque después de la escuela."),
        "test": ("El puente viejo estuvo cerrado por reparaciones el invierno pasado.",
                 "Ella escribe una carta a su abuela cada semana.",
                 "Nuestros vecinos pintaron su casa de un amarillo brillante.",
                 "El museo tiene una gran colección de monedas antiguas.",
                 "Por favor apaga las luces cuando salgas de la habitación.",
                 "El campesino vendió manzanas y peras en el mercado."),
    },
    "de": {
        "dev": ("Der Markt öffnet jeden Morgen um acht Uhr.",
                "Meine Schwester arbeitet in einer Bibliothek in der Nähe des Flusses.",
                "Wir gingen am Strand entlang, bis die Sonne unterging.",
                "Der Zug in die Stadt hatte heute wieder Verspätung.",
                "Er kaufte frisches Brot und eine Flasche Milch.",
                "Die Kinder spielten nach der Schule Fußball im Park."),
        "test": ("Die alte Brücke war letzten Winter wegen Reparaturen gesperrt.",
                 "Sie schreibt ihrer Großmutter jede Woche einen Brief.",
                 "Unsere Nachbarn haben ihr Haus hellgelb gestrichen.",
                 "Das Museum hat eine große Sammlung alter Münzen.",
                 "Bitte mach das Licht aus, wenn du den Raum verlässt.",
                 "Der Bauer verkaufte Äpfel und Birnen auf dem Markt."),
    },
    "fr": {
        "dev": ("Le marché ouvre tous les matins à huit heures.",
                "Ma sœur travaille dans une bibliothèque près de la rivière.",
                "Nous avons marché sur la plage jusqu'au coucher du soleil.",
                "Le train pour la ville était encore en retard aujourd'hui.",
                "Il a acheté du pain frais et une bouteille de lait.",
                "Les enfants ont joué au football dans le parc après l'école."),
        "test": ("Le vieux pont était fermé pour travaux l'hiver dernier.",
                 "Elle écrit une lettre à sa grand-mère chaque semaine.",
                 "Nos voisins ont peint leur maison en jaune vif.",
                 "Le musée possède une grande collection de pièces anciennes.",
                 "Éteins la lumière quand tu quittes la pièce, s'il te plaît.",
                 "Le fermier vendait des pommes et des poires au marché."),
    },
    "it": {
        "dev": ("Il mercato apre ogni mattina alle otto.",
                "Mia sorella lavora in una biblioteca vicino al fiume.",
                "Abbiamo camminato sulla spiaggia fino al tramonto.",
                "Il treno per la città era di nuovo in ritardo oggi.",
                "Ha comprato pane fresco e una bottiglia di latte.",
                "I bambini hanno giocato a calcio nel parco dopo la scuola."),
        "test": ("Il vecchio ponte era chiuso per lavori lo scorso inverno.",
                 "Lei scrive una lettera alla nonna ogni settimana.",
                 "I nostri vicini hanno dipinto la casa di un giallo brillante.",
                 "Il museo ha una grande collezione di monete antiche.",
                 "Per favore spegni la luce quando esci dalla stanza.",
                 "Il contadino vendeva mele e pere al mercato."),
    },
    "pt": {
        "dev": ("O mercado abre todas as manhãs às oito horas.",
                "A minha irmã trabalha numa biblioteca perto do rio.",
                "Caminhámos pela praia até o sol se pôr.",
                "O comboio para a cidade chegou atrasado outra vez hoje.",
                "Ele comprou pão fresco e uma garrafa de leite.",
                "As crianças jogaram futebol no parque depois da escola."),
        "test": ("A ponte velha esteve fechada para obras no inverno passado.",
                 "Ela escreve uma carta à avó todas as semanas.",
                 "Os nossos vizinhos pintaram a casa de amarelo vivo.",
                 "O museu tem uma grande coleção de moedas antigas.",
                 "Por favor apaga a luz quando saíres do quarto.",
                 "O agricultor vendia maçãs e peras no mercado."),
    },
    "nl": {
        "dev": ("De markt gaat elke ochtend om acht uur open.",
                "Mijn zus werkt in een bibliotheek bij de rivier.",
                "We liepen langs het strand tot de zon onderging.",
                "De trein naar de stad was vandaag weer te laat.",
                "Hij kocht vers brood en een fles melk.",
                "De kinderen voetbalden na school in het park."),
        "test": ("De oude brug was vorige winter gesloten voor herstelwerk.",
                 "Ze schrijft elke week een brief aan haar oma.",
                 "Onze buren hebben hun huis felgeel geverfd.",
                 "Het museum heeft een grote verzameling oude munten.",
                 "Doe alsjeblieft het licht uit als je de kamer verlaat.",
                 "De boer verkocht appels en peren op de markt."),
    },
    "pl": {
        "dev": ("Targ jest otwarty codziennie od ósmej rano.",
                "Moja siostra pracuje w bibliotece niedaleko rzeki.",
                "Spacerowaliśmy po plaży aż do zachodu słońca.",
                "Pociąg do miasta znowu się dzisiaj spóźnił.",
                "Kupił świeży chleb i butelkę mleka.",
                "Dzieci grały w piłkę w parku po szkole."),
        "test": ("Stary most był zamknięty z powodu remontu zeszłej zimy.",
                 "Ona pisze list do babci co tydzień.",
                 "Nasi sąsiedzi pomalowali dom na jasnożółty kolor.",
                 "Muzeum ma dużą kolekcję starych monet.",
                 "Proszę zgaś światło, kiedy wychodzisz z pokoju.",
                 "Rolnik sprzedawał jabłka i gruszki na targu."),
    },
    "ru": {
        "dev": ("Рынок открывается каждое утро в восемь часов.",
                "Моя сестра работает в библиотеке возле реки.",
                "Мы гуляли по пляжу, пока не зашло солнце.",
                "Поезд в город сегодня снова опоздал.",
                "Он купил свежий хлеб и бутылку молока.",
                "Дети играли в футбол в парке после школы."),
        "test": ("Старый мост был закрыт на ремонт прошлой зимой.",
                 "Она пишет письмо бабушке каждую неделю.",
                 "Наши соседи покрасили свой дом в ярко-жёлтый цвет.",
                 "В музее есть большая коллекция старинных монет.",
                 "Пожалуйста, выключай свет, когда выходишь из комнаты.",
                 "Фермер продавал яблоки и груши на рынке."),
    },
    "ja": {  # kana only: espeak-ng 1.51 reads no kanji
        "dev": ("いちばは まいあさ はちじに あきます。",
                "わたしの あねは かわの ちかくの としょかんで はたらいて います。",
                "わたしたちは ひが しずむまで はまべを あるきました。",
                "まちへ いく でんしゃは きょうも おくれました。",
                "かれは あたらしい パンと ぎゅうにゅうを かいました。",
                "こどもたちは ほうかごに こうえんで サッカーを しました。"),
        "test": ("ふるい はしは きょねんの ふゆ しゅうりの ために しまって いました。",
                 "かのじょは まいしゅう おばあさんに てがみを かきます。",
                 "となりの ひとは いえを あかるい きいろに ぬりました。",
                 "その はくぶつかんには ふるい おかねが たくさん あります。",
                 "へやを でる ときは でんきを けして ください。",
                 "のうかは いちばで りんごと なしを うりました。"),
    },
}
LANGUAGES = tuple(SENTENCES)

#: twelve more languages, three sentences each, read only by the test half's voices: a check of
#: identification beyond the corpus (nothing is chosen on them); Greek, Arabic (right to left),
#: Devanagari, Hangul and Cyrillic scripts among them
BREADTH_SENTENCES: dict[str, tuple[str, ...]] = {
    "sv": ("Tåget till staden var försenat igen i dag.", "Min syster arbetar på ett bibliotek nära floden.",
           "Barnen spelade fotboll i parken efter skolan."),
    "tr": ("Pazar her sabah saat sekizde açılır.", "Kız kardeşim nehrin yakınındaki bir kütüphanede çalışıyor.",
           "Çocuklar okuldan sonra parkta futbol oynadılar."),
    "el": ("Η αγορά ανοίγει κάθε πρωί στις οκτώ.", "Η αδερφή μου δουλεύει σε μια βιβλιοθήκη κοντά στο ποτάμι.",
           "Τα παιδιά έπαιξαν ποδόσφαιρο στο πάρκο μετά το σχολείο."),
    "ar": ("يفتح السوق كل صباح في الساعة الثامنة.", "تعمل أختي في مكتبة قريبة من النهر.",
           "لعب الأطفال كرة القدم في الحديقة بعد المدرسة."),
    "hi": ("बाज़ार हर सुबह आठ बजे खुलता है।", "मेरी बहन नदी के पास एक पुस्तकालय में काम करती है।",
           "बच्चों ने स्कूल के बाद पार्क में फुटबॉल खेला।"),
    "ko": ("시장은 매일 아침 여덟 시에 문을 엽니다.", "제 여동생은 강 근처의 도서관에서 일합니다.",
           "아이들은 방과 후에 공원에서 축구를 했습니다."),
    "vi": ("Chợ mở cửa mỗi sáng lúc tám giờ.", "Em gái tôi làm việc ở một thư viện gần sông.",
           "Bọn trẻ chơi bóng đá trong công viên sau giờ học."),
    "uk": ("Ринок відкривається щоранку о восьмій годині.", "Моя сестра працює в бібліотеці біля річки.",
           "Діти грали у футбол у парку після школи."),
    "fi": ("Tori aukeaa joka aamu kello kahdeksan.", "Siskoni työskentelee kirjastossa joen lähellä.",
           "Lapset pelasivat jalkapalloa puistossa koulun jälkeen."),
    "cs": ("Trh se otevírá každé ráno v osm hodin.", "Moje sestra pracuje v knihovně blízko řeky.",
           "Děti hrály fotbal v parku po škole."),
    "hu": ("A piac minden reggel nyolc órakor nyit.", "A nővérem egy könyvtárban dolgozik a folyó közelében.",
           "A gyerekek iskola után fociztak a parkban."),
    "id": ("Pasar buka setiap pagi pukul delapan.", "Kakak saya bekerja di perpustakaan dekat sungai.",
           "Anak-anak bermain sepak bola di taman sepulang sekolah."),
}
ESPEAK_VOICES.update({language: language for language in BREADTH_SENTENCES})

#: voice variants (espeak-ng "+variant", pitch, speed) of each half; the same for every language
VOICE_VARIANTS: dict[str, tuple[tuple[str, int, int], ...]] = {
    "dev": (("m3", 35, 150), ("f3", 65, 160)),
    "test": (("m1", 45, 145), ("f4", 75, 155)),
}


def voices(language: str, half: Half) -> list[Voice]:
    """The espeak-ng voices of HALF for LANGUAGE."""
    base = ESPEAK_VOICES[language]
    return [Voice(f"{base}+{variant}", pitch=pitch, speed=speed) for variant, pitch, speed in VOICE_VARIANTS[half]]


@dataclass
class Clip:
    language: str
    half: str
    voice: str
    wav: Path
    text: str
    duration: float


def make_clip(out_dir: Union[str, Path], language: str, half: Half, voice_index: int = 0,
              target_seconds: float = 12.0, first_sentence: int = 0) -> Clip:
    """VOICE_INDEX of HALF reading LANGUAGE's HALF sentences (from FIRST_SENTENCE, wrapping) until
    about TARGET_SECONDS (at least one sentence); cached."""
    folder = Path(out_dir) / (f"ml-v{FORMAT_VERSION}-{language}-{half}-{voice_index}-"
                              f"{int(target_seconds * 10)}ds-{first_sentence}")
    return _clip(folder, language, half, voices(language, half)[voice_index], target_seconds, first_sentence,
                 SENTENCES[language][half])


def make_breadth_clip(out_dir: Union[str, Path], language: str, voice_index: int = 0) -> Clip:
    """VOICE_INDEX of the test half reading LANGUAGE's :data:`BREADTH_SENTENCES` (10-14 s); cached."""
    folder = Path(out_dir) / f"ml-v{FORMAT_VERSION}-breadth-{language}-{voice_index}"
    return _clip(folder, language, "test", voices(language, "test")[voice_index], 12.0, 0,
                 BREADTH_SENTENCES[language], made_as="breadth")


def _clip(folder: Path, language: str, half: str, voice: Voice, target_seconds: float, first: int,
          sentences: Sequence[str], made_as: str = "") -> Clip:
    """The clip in FOLDER, made first when it is not there (its pauses drawn by MADE_AS, else HALF)."""
    meta = folder / "clip.json"
    if not meta.is_file():
        _generate(folder, language, made_as or half, voice, target_seconds, first, sentences)
    data = json.loads(meta.read_text(encoding="utf-8"))
    return Clip(language=language, half=half, voice=voice.name, wav=folder / "audio.wav", text=data["text"],
                duration=data["duration"])


def _generate(folder: Path, language: str, half: str, voice: Voice, target_seconds: float, first: int,
              sentences: Sequence[str]) -> None:
    if shutil.which("espeak-ng") is None:
        raise BackendUnavailable("the multilingual corpus needs espeak-ng: apt-get install -y espeak-ng")
    import soundfile as sf

    rng = random.Random(f"{language}-{half}-{voice.name}-{first}")
    pieces, texts, length = [np.zeros(int(0.3 * SAMPLE_RATE), np.float32)], [], 0.3
    with tempfile.TemporaryDirectory(prefix="vtx-ml-") as tmp:
        index = first
        while not texts or length < target_seconds:
            if len(texts) >= 4 * len(sentences):
                break
            sentence = sentences[index % len(sentences)]
            clip = _speak(voice, sentence, Path(tmp) / f"{index}.wav")
            pause = np.zeros(int(rng.uniform(0.3, 0.6) * SAMPLE_RATE), np.float32)
            if texts and length + clip.size / SAMPLE_RATE > target_seconds + 2.0:
                break
            pieces += [clip, pause]
            texts.append(sentence)
            length += (clip.size + pause.size) / SAMPLE_RATE
            index += 1
    audio = np.concatenate(pieces)
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / ".audio.wav.part"
    sf.write(partial, audio, SAMPLE_RATE, subtype="PCM_16", format="WAV")
    partial.replace(folder / "audio.wav")
    data = {"language": language, "half": half, "voice": voice.name, "text": " ".join(texts),
            "duration": round(audio.size / SAMPLE_RATE, 3)}
    part = folder / ".clip.json.part"
    part.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    part.replace(folder / "clip.json")


def concatenate(out: Union[str, Path], clips: Sequence[Clip]) -> Path:
    """One wav of CLIPS one after the other (e.g. a file that switches language)."""
    import soundfile as sf

    audio = np.concatenate([sf.read(c.wav, dtype="float32")[0] for c in clips])
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sf.write(out, audio, SAMPLE_RATE, subtype="PCM_16", format="WAV")
    return out
