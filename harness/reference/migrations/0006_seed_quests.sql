-- Built-in quests: stable ids, fixed timestamps, so fresh and upgraded installs hold the same rows.
INSERT OR IGNORE INTO quests (id, title, category, prompt, duration_sec, created_at) VALUES
    ('builtin.opening-hook', 'Accroche d’ouverture', 'structure',
     'Ouvrez sans « bonjour » ni présentation : une question, un chiffre, une image.', 60,
     '2026-01-01T00:00:00Z'),
    ('builtin.strategic-pause', 'La pause stratégique — 3 secondes', 'delivery',
     'Marquez un silence complet avant et après votre idée principale.', 90,
     '2026-01-01T00:00:00Z'),
    ('builtin.one-breath', 'Une idée, une respiration', 'delivery',
     'Chaque phrase tient dans un souffle ; pas de « euh » entre deux idées.', 60,
     '2026-01-01T00:00:00Z'),
    ('builtin.objection', 'Répondre à l’objection', 'interaction',
     'Reformulez l’objection la plus dure, puis répondez en trois phrases.', 120,
     '2026-01-01T00:00:00Z'),
    ('builtin.closing', 'Conclure en 30 s ✓', 'structure',
     'Résumez, appelez à l’action, remerciez — dans cet ordre.', 30,
     '2026-01-01T00:00:00Z');
