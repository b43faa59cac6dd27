"""Account routes under /api/v1/: users, e-mail verification and the pages e-mailed links open."""

from django.urls import path, re_path

from blogapi.accounts import account_views, mfa_views, views, webauthn_views
from blogapi.core.exceptions import json_not_found

app_name = "accounts"

urlpatterns = [
    path("users/", views.UserListView.as_view(), name="user-list"),
    path("users/<int:pk>/", views.UserDetailView.as_view(), name="user-detail"),
    # Ours, before dj-rest-auth's: per-device tokens instead of DRF's one shared token.
    re_path(r"^dj-rest-auth/registration/?$", views.RegisterView.as_view(), name="register"),
    re_path(r"^dj-rest-auth/login/?$", views.LoginView.as_view(), name="login"),
    re_path(r"^dj-rest-auth/logout/?$", views.LogoutView.as_view(), name="logout"),
    path("dj-rest-auth/csrf/", views.CsrfTokenView.as_view(), name="csrf-token"),
    re_path(
        r"^dj-rest-auth/registration/resend-email/?$",
        views.ResendEmailView.as_view(),
        name="resend-email",
    ),
    re_path(
        r"^dj-rest-auth/password/reset/?$", views.PasswordResetView.as_view(), name="password-reset"
    ),
    re_path(
        r"^dj-rest-auth/password/reset/confirm/?$",
        views.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path("dj-rest-auth/logout-all/", views.LogoutAllView.as_view(), name="logout-all"),
    # Ours, before dj-rest-auth's (simplejwt's, routed only with its USE_JWT): rotating families.
    re_path(r"^dj-rest-auth/token/refresh/?$", views.JwtRefreshView.as_view(), name="jwt-refresh"),
    re_path(r"^dj-rest-auth/token/verify/?$", views.JwtVerifyView.as_view(), name="jwt-verify"),
    path("dj-rest-auth/mfa/status/", mfa_views.MfaStatusView.as_view(), name="mfa-status"),
    path(
        "dj-rest-auth/mfa/totp/activate/",
        mfa_views.TotpActivateView.as_view(),
        name="mfa-totp-activate",
    ),
    path(
        "dj-rest-auth/mfa/totp/deactivate/",
        mfa_views.TotpDeactivateView.as_view(),
        name="mfa-totp-deactivate",
    ),
    path(
        "dj-rest-auth/mfa/recovery-codes/",
        mfa_views.RecoveryCodesView.as_view(),
        name="mfa-recovery-codes",
    ),
    path(
        "dj-rest-auth/mfa/recovery-codes/regenerate/",
        mfa_views.RecoveryCodesRegenerateView.as_view(),
        name="mfa-recovery-codes-regenerate",
    ),
    path(
        "dj-rest-auth/reauthenticate/",
        mfa_views.ReauthenticateView.as_view(),
        name="reauthenticate",
    ),
    path("dj-rest-auth/mfa/verify/", mfa_views.MfaVerifyView.as_view(), name="mfa-verify"),
    path(
        "dj-rest-auth/mfa/webauthn/",
        webauthn_views.PasskeyListView.as_view(),
        name="mfa-webauthn-list",
    ),
    path(
        "dj-rest-auth/mfa/webauthn/register/begin/",
        webauthn_views.PasskeyRegisterBeginView.as_view(),
        name="mfa-webauthn-register-begin",
    ),
    path(
        "dj-rest-auth/mfa/webauthn/register/",
        webauthn_views.PasskeyRegisterView.as_view(),
        name="mfa-webauthn-register",
    ),
    path(
        "dj-rest-auth/mfa/webauthn/<int:pk>/",
        webauthn_views.PasskeyDetailView.as_view(),
        name="mfa-webauthn-detail",
    ),
    path(
        "dj-rest-auth/mfa/webauthn/authenticate/",
        webauthn_views.PasskeySecondFactorBeginView.as_view(),
        name="mfa-webauthn-authenticate",
    ),
    path(
        "dj-rest-auth/mfa/webauthn/login/begin/",
        webauthn_views.PasskeyLoginBeginView.as_view(),
        name="mfa-webauthn-login-begin",
    ),
    path(
        "dj-rest-auth/mfa/webauthn/login/",
        webauthn_views.PasskeyLoginView.as_view(),
        name="mfa-webauthn-login",
    ),
    path(
        "dj-rest-auth/reauthenticate/webauthn/begin/",
        webauthn_views.ReauthenticatePasskeyBeginView.as_view(),
        name="reauthenticate-webauthn-begin",
    ),
    path("dj-rest-auth/email/", views.EmailAddressView.as_view(), name="email"),
    path("dj-rest-auth/tokens/", views.CredentialListView.as_view(), name="credential-list"),
    path("dj-rest-auth/activity/", views.ActivityListView.as_view(), name="activity-list"),
    path("dj-rest-auth/export/", account_views.AccountExportView.as_view(), name="account-export"),
    path("dj-rest-auth/delete/", account_views.AccountDeleteView.as_view(), name="account-delete"),
    path(
        "dj-rest-auth/tokens/<str:credential_id>/",
        views.CredentialRevokeView.as_view(),
        name="credential-revoke",
    ),
    # These shadow dj-rest-auth's placeholder TemplateViews, which answer every GET with a 500.
    path(
        "dj-rest-auth/registration/account-confirm-email/<str:key>/",
        views.EmailConfirmPageView.as_view(),
        name="confirm-email-page",
    ),
    re_path(r"^dj-rest-auth/registration/account-email-verification-sent/?$", json_not_found),
    # Ours, before dj-rest-auth's: the same confirmation flow as the page above.
    re_path(
        r"^dj-rest-auth/registration/verify-email/?$",
        views.VerifyEmailView.as_view(),
        name="verify-email",
    ),
    path(
        "dj-rest-auth/password/reset/confirm/<str:uid>/<str:token>/",
        views.PasswordResetPageView.as_view(),
        name="password-reset-page",
    ),
]
