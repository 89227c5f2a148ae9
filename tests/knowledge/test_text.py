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


def test_word_tokens_leave_out_the_pairs_that_straddle_two_words():
    from knowledge.text import word_tokens

    assert "程是" in tokenize("退貨流程是什麼")
    words = word_tokens("退貨流程是什麼")
    assert "退貨" in words and "流程" in words
    assert not {"貨流", "程是", "是什"} & set(words)
    assert word_tokens("How long does DELIVERY take?") == tokenize("How long does DELIVERY take?")
