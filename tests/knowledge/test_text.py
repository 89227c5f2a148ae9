from knowledge.text import normalize, tokenize


def test_simplified_and_full_width_are_folded():
    assert normalize("退货ＡＢＣ") == "退貨abc"
    assert tokenize("退货") == tokenize("退貨")


def test_traditional_text_is_segmented_into_words():
    tokens = tokenize("會員等級怎麼升級")
    assert "會員" in tokens and "升級" in tokens
    assert "會員等級怎麼升級" not in tokens


def test_english_words_lowercased_stemmed_and_stop_words_dropped():
    assert tokenize("How long does DELIVERY take?") == ("long", "deliveri", "take")
    assert tokenize("returned deliveries") == tokenize("return delivery")


def test_mixed_language_keeps_both_scripts():
    tokens = tokenize("iPhone 保固多久")
    assert "iphon" in tokens and "保固" in tokens


def test_punctuation_only_gives_no_tokens():
    assert tokenize("？！。，") == ()
