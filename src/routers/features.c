// Prompt features (rl/features.h), version pf1. Each is a plain count or share, squashed with
// ln(1 + x) where it grows without bound, so that a linear model on them stays well scaled:
//
//   0 log_bytes      ln(1 + bytes)
//   1 log_tokens     ln(1 + tokens), tokens as rl_features_n_tokens counts them
//   2 log_lines      ln(1 + lines)
//   3 digit_frac     ASCII digits / characters
//   4 log_numbers    ln(1 + numbers): runs of digits, a '.' or ',' between digits joining them
//   5 math_frac      mathematical symbols / characters: = + - * / ^ < > $ and ≤ ≥ ± × ÷ √ ∑ ∫
//                    π ∞ ≠ ≈, plus each "\frac" and "\sqrt"
//   6 log_code       ln(1 + code markers): each "```", "def ", "return", "#include", "import ",
//                    "function", "=>", "{", "}", and each line ending in ';'
//   7 log_questions  ln(1 + question marks, ASCII or full width)
//   8 mc_options     lines that start with an answer label ("A. ", "B) ", "(C) "; letters A-J)
//                    / 10, at most 1
//   9 non_ascii      characters above U+007F / characters
//  10 cjk            CJK ideographs, kana and Hangul syllables / characters
//
// A conversation's turns are not a feature: routers score one user turn, and every training
// prompt is one.
#include <ctype.h>
#include <stdbool.h>
#include <math.h>
#include <string.h>

#include "rl/features.h"
#include "tokenizer/unicode.h"

static const char *const names[RL_FEATURES_N] = {
    "log_bytes", "log_tokens",    "log_lines",  "digit_frac", "log_numbers", "math_frac",
    "log_code",  "log_questions", "mc_options", "non_ascii",  "cjk",
};

const char *rl_features_name(int i) {
    return i >= 0 && i < RL_FEATURES_N ? names[i] : NULL;
}

size_t rl_features_n_tokens(const char *text, size_t len) {
    const unsigned char *s = (const unsigned char *)text;
    size_t n = 0, i = 0;
    bool in_word = false;
    while (i < len) {
        int32_t cp;
        i += rl__utf8_decode(s + i, len - i, &cp);
        if (rl__uni_is_whitespace(cp) || rl__uni_is_control(cp)) {
            in_word = false;
        } else if (rl__uni_is_punctuation(cp) || rl__uni_is_chinese(cp)) {
            n++;
            in_word = false;
        } else if (!in_word) {
            n++;
            in_word = true;
        }
    }
    return n;
}

static size_t count_substr(const char *text, size_t len, const char *needle) {
    size_t n = 0, k = strlen(needle);
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *hit = memmem(p, (size_t)(end - p), needle, k);
        if (!hit)
            break;
        n++;
        p = hit + k;
    }
    return n;
}

static bool is_math_symbol(int32_t cp) {
    static const int32_t uni[] = {0x2264, 0x2265, 0x00B1, 0x00D7, 0x00F7, 0x221A,
                                  0x2211, 0x222B, 0x03C0, 0x221E, 0x2260, 0x2248};
    if (cp < 128)
        return cp != 0 && strchr("=+-*/^<>$", (int)cp) != NULL;
    for (size_t i = 0; i < sizeof uni / sizeof uni[0]; i++)
        if (cp == uni[i])
            return true;
    return false;
}

static bool is_cjk(int32_t cp) {
    return rl__uni_is_chinese(cp) || (cp >= 0x3040 && cp <= 0x30FF) ||
           (cp >= 0xAC00 && cp <= 0xD7AF);
}

// Does the line at s[0..n) start, after blanks, with an answer label: "A. ", "B) " or "(C) "?
static bool option_line(const char *s, size_t n) {
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    bool paren = i < n && s[i] == '(';
    i += paren;
    if (i >= n || s[i] < 'A' || s[i] > 'J')
        return false;
    i++;
    if (i >= n || (paren ? s[i] != ')' : (s[i] != '.' && s[i] != ')')))
        return false;
    i++;
    return i < n && (s[i] == ' ' || s[i] == '\t');
}

// Per-line counts: lines, answer-label lines, and lines whose last non-blank byte is ';'.
static void scan_lines(const char *text, size_t len, size_t *lines, size_t *options,
                       size_t *semicolons) {
    *lines = *options = *semicolons = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && text[i] != '\n')
            continue;
        size_t end = i;
        while (end > start && isspace((unsigned char)text[end - 1]))
            end--;
        *lines += len > 0;
        *options += option_line(text + start, i - start);
        *semicolons += end > start && text[end - 1] == ';';
        start = i + 1;
    }
}

void rl_features(const char *text, size_t len, float out[RL_FEATURES_N]) {
    const unsigned char *s = (const unsigned char *)text;
    size_t chars = 0, digits = 0, numbers = 0, math = 0, questions = 0, non_ascii = 0, cjk = 0;
    bool in_number = false;
    for (size_t i = 0; i < len;) {
        int32_t cp;
        size_t k = rl__utf8_decode(s + i, len - i, &cp);
        bool digit = cp >= '0' && cp <= '9';
        // A '.' or ',' between two digits continues the number it is in.
        bool joins = in_number && (cp == '.' || cp == ',') && i + 1 < len && isdigit(s[i + 1]);
        numbers += digit && !in_number;
        in_number = digit || joins;
        chars++;
        digits += digit;
        math += is_math_symbol(cp);
        questions += cp == '?' || cp == 0xFF1F;
        non_ascii += cp > 127;
        cjk += is_cjk(cp);
        i += k;
    }
    math += count_substr(text, len, "\\frac") + count_substr(text, len, "\\sqrt");
    static const char *const code_markers[] = {"```",      "def ", "return", "#include", "import ",
                                               "function", "=>",   "{",      "}"};
    size_t code = 0;
    for (size_t i = 0; i < sizeof code_markers / sizeof code_markers[0]; i++)
        code += count_substr(text, len, code_markers[i]);
    size_t lines, options, semicolons;
    scan_lines(text, len, &lines, &options, &semicolons);
    code += semicolons;
    double per = chars ? 1.0 / (double)chars : 0;
    out[0] = (float)log1p((double)len);
    out[1] = (float)log1p((double)rl_features_n_tokens(text, len));
    out[2] = (float)log1p((double)lines);
    out[3] = (float)((double)digits * per);
    out[4] = (float)log1p((double)numbers);
    out[5] = (float)((double)math * per);
    out[6] = (float)log1p((double)code);
    out[7] = (float)log1p((double)questions);
    out[8] = (float)(options >= 10 ? 1.0 : (double)options / 10);
    out[9] = (float)((double)non_ascii * per);
    out[10] = (float)((double)cjk * per);
}
